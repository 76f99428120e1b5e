/* wasm-lab's pause: the process that holds a pod's namespaces open.
 *
 * It does nothing but wait: it exits cleanly on SIGINT/SIGTERM, and, being PID 1 of the pod's
 * PID namespace when the namespace is shared, reaps any orphaned child that is re-parented to it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define VERSION "wasm-lab-pause"

static void on_terminate(int sig) {
    (void)sig;
    _exit(0);
}

static void on_child(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

static void handle(int sig, void (*fn)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) < 0) {
        perror("pause: sigaction");
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        puts(VERSION);
        return 0;
    }
    if (getpid() != 1) {
        fprintf(stderr, "pause: warning: not running as PID 1\n");
    }
    handle(SIGINT, on_terminate, 0);
    handle(SIGTERM, on_terminate, 0);
    handle(SIGCHLD, on_child, SA_NOCLDSTOP | SA_RESTART);
    for (;;) {
        pause();
    }
}
