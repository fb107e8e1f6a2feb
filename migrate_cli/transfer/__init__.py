"""Data transfer: copy and sync between local directories, S3 and SFTP, verified end to end and resumable.

Layers, each in its own module:
  location    SRC/DEST text -> Location (local path, s3://bucket/prefix, sftp://host/path, HOST:/path)
  sources     the Store interface and the local store; s3 / sftp hold the remote stores
  s3endpoint  where S3 requests go and who signs them (without boto3 when the environment is plain)
  s3http      the lean S3 data path (signed requests over keep-alive connections); s3control: its XML
  s3copy      server-side S3 -> S3 copies; s3support: what an endpoint does with our SHA-256
  checksums   SHA-256 (full or composite over parts) and MD5/ETag digests
  filters     --include / --exclude globs
  plan        source vs destination listing -> what to copy, skip and delete
  state       per (source, destination) SQLite state: completed objects, in-flight multipart uploads, lock
  engine      the concurrent, retrying, resumable executor of a plan
  progress    rich progress on a TTY, periodic plain lines without one
  service     validate -> open -> plan -> apply, shared by the CLI and the `data.copy` action
  command     `migrate data copy` as a one-step playbook run; actions: the `data.copy` action
  backup/, archive/, backup_actions: daily backups and Glacier archiving (their own modules)
"""
