/* raw_ping: the floor for an MQTT PINGREQ/PINGRESP round trip.
 *
 *   raw_ping HOST PORT COUNT INTERVAL_S [SAMPLES_FILE]
 *
 * Opens a TCP socket (TCP_NODELAY), sends an MQTT 3.1.1 CONNECT (clean
 * session, keep-alive 60), reads the CONNACK, then COUNT times writes a
 * PINGREQ (0xC0 0x00) and blocking-reads the 2-byte PINGRESP (0xD0 0x00),
 * timing each with CLOCK_MONOTONIC, sleeping INTERVAL_S between requests (as
 * `mqttctl ping --interval` does). Prints "median_ms min_ms avg_ms max_ms";
 * each round trip in ms goes to SAMPLES_FILE (one a line) when given.
 * Ends with a DISCONNECT. Exit status 1 on any error. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n) { ssize_t w = write(fd, p, n); if (w <= 0) return -1; p += w; n -= (size_t)w; }
    return 0;
}
static int read_all(int fd, unsigned char *p, size_t n) {
    while (n) { ssize_t r = read(fd, p, n); if (r <= 0) return -1; p += r; n -= (size_t)r; }
    return 0;
}
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: raw_ping HOST PORT COUNT INTERVAL_S [SAMPLES_FILE]\n"); return 1; }
    int count = atoi(argv[3]);
    double interval = atof(argv[4]);
    if (count < 1) { fprintf(stderr, "raw_ping: COUNT must be >= 1\n"); return 1; }
    struct addrinfo hints = {0}, *ai;
    hints.ai_family = AF_UNSPEC; hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0) { fprintf(stderr, "raw_ping: cannot resolve %s\n", argv[1]); return 1; }
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) { perror("raw_ping: connect"); return 1; }
    freeaddrinfo(ai);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    char id[32];
    int idlen = snprintf(id, sizeof id, "raw-ping-%d", (int)getpid());
    unsigned char pkt[64];
    size_t n = 0;
    pkt[n++] = 0x10;                       /* CONNECT */
    pkt[n++] = (unsigned char)(10 + 2 + idlen);
    const unsigned char vh[] = {0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60};
    memcpy(pkt + n, vh, sizeof vh); n += sizeof vh;   /* 3.1.1, clean session, keep-alive 60 */
    pkt[n++] = 0; pkt[n++] = (unsigned char)idlen;
    memcpy(pkt + n, id, (size_t)idlen); n += (size_t)idlen;
    unsigned char ack[4];
    if (write_all(fd, pkt, n) || read_all(fd, ack, 4) || ack[0] != 0x20 || ack[3] != 0) {
        fprintf(stderr, "raw_ping: no CONNACK or connection refused\n"); return 1;
    }

    double *rtt = malloc(sizeof(double) * (size_t)count);
    const unsigned char req[2] = {0xC0, 0x00};
    struct timespec pause = { (time_t)interval, (long)((interval - (long)interval) * 1e9) };
    for (int i = 0; i < count; i++) {
        if (i > 0 && interval > 0) nanosleep(&pause, NULL);
        struct timespec t0, t1;
        unsigned char resp[2];
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (write_all(fd, req, 2) || read_all(fd, resp, 2)) { fprintf(stderr, "raw_ping: connection lost\n"); return 1; }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (resp[0] != 0xD0 || resp[1] != 0) { fprintf(stderr, "raw_ping: unexpected packet 0x%02x\n", resp[0]); return 1; }
        rtt[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    }
    const unsigned char disc[2] = {0xE0, 0x00};
    write_all(fd, disc, 2);
    close(fd);

    if (argc > 5) {
        FILE *f = fopen(argv[5], "w");
        if (!f) { perror(argv[5]); return 1; }
        for (int i = 0; i < count; i++) fprintf(f, "%.6f\n", rtt[i]);
        fclose(f);
    }
    double sum = 0;
    for (int i = 0; i < count; i++) sum += rtt[i];
    qsort(rtt, (size_t)count, sizeof(double), cmp);
    double med = count % 2 ? rtt[count / 2] : (rtt[count / 2 - 1] + rtt[count / 2]) / 2;
    printf("%.6f %.6f %.6f %.6f\n", med, rtt[0], sum / count, rtt[count - 1]);
    return 0;
}
