from migrate_cli.cli.main import run

run()
