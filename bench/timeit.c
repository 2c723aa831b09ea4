/* timeit: run a command and report its wall time, exit status and peak RSS.
 *
 *   timeit [-t TIMEOUT_S] RESULT_FILE CMD [ARG...]
 *
 * Appends one line to RESULT_FILE: "<elapsed_ns> <status> <maxrss_kb>".
 * elapsed_ns: CLOCK_MONOTONIC from just before fork() to just after wait4()
 *   returned (the same small overhead for every command timed).
 * status: the exit code; 128+N if killed by signal N; 124 if TIMEOUT_S passed
 *   (the command then gets SIGTERM, and SIGKILL 5 s later).
 * maxrss_kb: ru_maxrss from wait4 (what GNU time's %M reports).
 * stdin/stdout/stderr are inherited, so redirections apply to the command.
 * SIGINT/SIGTERM sent to timeit are passed on to the command, and the command
 * gets SIGTERM if timeit dies (PR_SET_PDEATHSIG), so nothing is left behind.
 * timeit exits 0 when it could run and wait for the command, else 125. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_alarm = 0, got_signal = 0;
static void on_alarm(int s) { (void)s; got_alarm++; }
static void on_signal(int s) { got_signal = s; }

int main(int argc, char **argv) {
    int i = 1;
    unsigned timeout = 0;
    if (argc > 2 && strcmp(argv[1], "-t") == 0) { timeout = (unsigned)atoi(argv[2]); i = 3; }
    if (argc - i < 2) { fprintf(stderr, "usage: timeit [-t TIMEOUT_S] RESULT_FILE CMD [ARG...]\n"); return 125; }
    const char *result = argv[i];
    char **cmd = argv + i + 1;
    FILE *out = fopen(result, "a");
    if (!out) { perror(result); return 125; }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_alarm;          /* no SA_RESTART: wait4 returns EINTR */
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    pid_t parent = getpid();

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 125; }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(125);
        signal(SIGINT, SIG_DFL); signal(SIGTERM, SIG_DFL); signal(SIGHUP, SIG_DFL);
        signal(SIGALRM, SIG_DFL);
        execvp(cmd[0], cmd);
        fprintf(stderr, "timeit: %s: %s\n", cmd[0], strerror(errno));
        _exit(127);
    }
    if (timeout) alarm(timeout);
    int status = 0, killed = 0, forwarded = 0;
    struct rusage ru;
    for (;;) {
        pid_t r = wait4(pid, &status, 0, &ru);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) { perror("wait4"); return 125; }
        if (got_signal && !forwarded) { kill(pid, got_signal); forwarded = 1; }
        if (got_alarm == 1 && !killed) { killed = 1; kill(pid, SIGTERM); alarm(5); }
        else if (got_alarm >= 2) kill(pid, SIGKILL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (killed) code = 124;
    fprintf(out, "%lld %d %ld\n", ns, code, ru.ru_maxrss);
    fclose(out);
    if (got_signal) { signal(got_signal, SIG_DFL); raise(got_signal); }
    return 0;
}
