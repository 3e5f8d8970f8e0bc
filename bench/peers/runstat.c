/* bench: runs a command and writes its wall time, CPU time and peak RSS as
 * JSON, like /usr/bin/time but without ignoring SIGINT: Ctrl-C still kills
 * the command, and runstat then dies of the same signal, so the calling
 * script sees the interrupt and stops instead of carrying on.
 * usage: runstat OUT.json COMMAND [ARGS...]; exit status: the command's. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: runstat OUT.json COMMAND [ARGS...]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* The terminal's SIGINT reaches the child directly; runstat waits it out
     * (ignored before the fork so no signal slips in between). */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    pid_t pid = fork();
    if (pid < 0) {
        perror("runstat: fork");
        return 127;
    }
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execvp(argv[2], argv + 2);
        fprintf(stderr, "runstat: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    int st;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0)
        ;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    FILE *f = fopen(argv[1], "w");
    if (f) {
        fprintf(f, "{\"seconds\":%.3f,\"user\":%.3f,\"sys\":%.3f,\"max_rss_kib\":%ld}\n",
                (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
                tv_s(ru.ru_utime), tv_s(ru.ru_stime), ru.ru_maxrss);
        fclose(f);
    } else {
        perror(argv[1]);
    }
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        signal(sig, SIG_DFL);
        raise(sig);
        return 128 + sig;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
