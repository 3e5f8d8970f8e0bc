/* trailkeep CLI dispatcher: maps the first argument to a command in one
 * table. Commands are declared weak so the binary links while a subsystem is
 * being built; a missing one is reported, never silently ignored. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEAK __attribute__((weak))
WEAK int tk_cmd_gen(int, char **);
WEAK int tk_cmd_import(int, char **);
WEAK int tk_cmd_lookup(int, char **);
WEAK int tk_cmd_verify(int, char **);
WEAK int tk_cmd_purge(int, char **);
WEAK int tk_cmd_serve(int, char **);
WEAK int tk_cmd_keys(int, char **);
WEAK int tk_cmd_accounts(int, char **);
WEAK int tk_cmd_rules(int, char **);
WEAK int tk_cmd_alerts(int, char **);
WEAK int tk_cmd_trails(int, char **);
WEAK int tk_cmd_insights(int, char **);

#ifndef TK_VERSION
#define TK_VERSION "0.1.0"
#endif

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"serve", tk_cmd_serve, "run the HTTP service (ingest, lookup, console)"},
    {"import", tk_cmd_import, "bulk-load ActionTrail/CloudTrail files and folders (.gz too)"},
    {"lookup", tk_cmd_lookup, "LookupEvents: time range + up to two attributes"},
    {"gen", tk_cmd_gen, "generate realistic, deterministic events (demo, tests, bench)"},
    {"verify", tk_cmd_verify, "check the store's hash chain for modified/missing/inserted data"},
    {"purge", tk_cmd_purge, "delete days older than the retention period"},
    {"keys", tk_cmd_keys, "create, list and revoke API keys"},
    {"accounts", tk_cmd_accounts, "manage accounts and the organization"},
    {"rules", tk_cmd_rules, "alert rules: templates, Sigma import, test rules on events"},
    {"alerts", tk_cmd_alerts, "list, acknowledge and close alerts"},
    {"trails", tk_cmd_trails, "trails: deliver events to OSS/S3, folders, syslog"},
    {"insights", tk_cmd_insights, "Insights: anomalies against each account's baseline"},
};

const char *tk_cli_default_data(void)
{
    const char *d = getenv("TRAILKEEP_DATA");
    return d && *d ? d : "./data";
}

int tk_cli_is_help(const char *arg)
{
    return !strcmp(arg, "-h") || !strcmp(arg, "--help") || !strcmp(arg, "help");
}

static void usage(FILE *f)
{
    fprintf(f, "trailkeep %s - a self-hosted audit trail for cloud operations\n\n", TK_VERSION);
    fprintf(f, "usage: trailkeep <command> [options]   (trailkeep <command> --help for details)\n\n");
    fprintf(f, "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (commands[i].fn)
            fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nenvironment: TRAILKEEP_DATA sets the default data directory (./data).\n");
}

int main(int argc, char **argv)
{
    /* "trailkeep help CMD" is "trailkeep CMD --help". */
    if (argc >= 3 && tk_cli_is_help(argv[1]) && !tk_cli_is_help(argv[2])) {
        char help[] = "--help";
        char *av[] = {argv[2], help, NULL};
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (!strcmp(argv[2], commands[i].name) && commands[i].fn)
                return commands[i].fn(2, av);
        fprintf(stderr, "trailkeep: unknown command '%s'\n\n", argv[2]);
        usage(stderr);
        return 2;
    }
    if (argc < 2 || tk_cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("trailkeep %s\n", TK_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name))
            continue;
        if (!commands[i].fn) {
            fprintf(stderr, "trailkeep: command '%s' is not built into this binary\n", argv[1]);
            return 2;
        }
        return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "trailkeep: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
