"""Daily backups into S3: dated snapshots of a directory tree, content-addressed by SHA-256.

Modules (imported on use, so `migrate --help` stays fast): `config` (BackupConfig, load_backup_config),
`store` (BackupStore: objects, manifests), `blobs` (their transfers, on the copy engine's S3Store),
`snapshot` (plan_backup, run_backup, retention), `restore` (restore_snapshot), `locking` (backup_lock).
The playbook actions are in `migrate_cli.transfer.backup_actions`.
"""
