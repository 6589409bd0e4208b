/* The mamori commands, one file per verb group as git's builtin/ (flat in src/cli/ because the
 * build globs that one directory). Each takes argv with its own name in argv[0] and returns an
 * enum cli_exit value. */
#ifndef MAMORI_CMD_H
#define MAMORI_CMD_H

struct cli;

int cmd_login_run(struct cli *cli, int argc, char **argv);
int cmd_tokens_run(struct cli *cli, int argc, char **argv);
int cmd_hosts_run(struct cli *cli, int argc, char **argv);
int cmd_groups_run(struct cli *cli, int argc, char **argv);
int cmd_users_run(struct cli *cli, int argc, char **argv);
int cmd_events_run(struct cli *cli, int argc, char **argv);
int cmd_audit_run(struct cli *cli, int argc, char **argv);
int cmd_stats_run(struct cli *cli, int argc, char **argv);
int cmd_alerts_run(struct cli *cli, int argc, char **argv);
int cmd_rules_run(struct cli *cli, int argc, char **argv);
int cmd_scan_run(struct cli *cli, int argc, char **argv);
int cmd_kill_run(struct cli *cli, int argc, char **argv);
int cmd_actions_run(struct cli *cli, int argc, char **argv);
int cmd_processes_run(struct cli *cli, int argc, char **argv);
int cmd_connections_run(struct cli *cli, int argc, char **argv);
int cmd_collect_run(struct cli *cli, int argc, char **argv);
int cmd_isolate_run(struct cli *cli, int argc, char **argv);
int cmd_release_run(struct cli *cli, int argc, char **argv);
int cmd_block_run(struct cli *cli, int argc, char **argv);
int cmd_unblock_run(struct cli *cli, int argc, char **argv);
int cmd_policy_run(struct cli *cli, int argc, char **argv);
int cmd_quarantine_run(struct cli *cli, int argc, char **argv);
int cmd_restore_run(struct cli *cli, int argc, char **argv);
int cmd_notify_run(struct cli *cli, int argc, char **argv);
int cmd_persistence_run(struct cli *cli, int argc, char **argv);

#endif
