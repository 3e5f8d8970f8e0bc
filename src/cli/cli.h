/* trailkeep CLI: one file per command, each exporting tk_cmd_<name>(). The
 * dispatcher (main.c) lists them in one table. Commands print errors to stderr
 * as "trailkeep <cmd>: <what went wrong and what to do>" and return the exit
 * status: 0 ok, 1 failure, 2 usage error. */
#ifndef TK_CLI_CLI_H
#define TK_CLI_CLI_H

int tk_cmd_gen(int argc, char **argv);
int tk_cmd_import(int argc, char **argv);
int tk_cmd_lookup(int argc, char **argv);
int tk_cmd_verify(int argc, char **argv);
int tk_cmd_purge(int argc, char **argv);
int tk_cmd_serve(int argc, char **argv);
int tk_cmd_keys(int argc, char **argv);
int tk_cmd_accounts(int argc, char **argv);
int tk_cmd_rules(int argc, char **argv);
int tk_cmd_alerts(int argc, char **argv);
int tk_cmd_trails(int argc, char **argv);
int tk_cmd_insights(int argc, char **argv);

/* Helpers shared by commands. */
/* 1 when argv[i] is -h or --help. */
int tk_cli_is_help(const char *arg);
/* Default data directory: $TRAILKEEP_DATA or ./data. */
const char *tk_cli_default_data(void);

#endif
