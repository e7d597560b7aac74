/* Sends UDP datagrams of a given payload size to ADDR:PORT as fast as the
 * kernel takes them (sendmmsg, 64 at a time) for SECONDS; prints how many.
 * Used by bench/net.py for the host-to-guest direction.
 * usage: udp_blast ADDR PORT PAYLOAD SECONDS */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: udp_blast ADDR PORT PAYLOAD SECONDS\n");
        return 2;
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
        fprintf(stderr, "bad address %s\n", argv[1]);
        return 2;
    }
    size_t size = (size_t)atoi(argv[3]);
    double seconds = atof(argv[4]);
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    if (sock < 0 || connect(sock, (struct sockaddr *)&to, sizeof(to)) != 0) {
        perror("socket/connect");
        return 1;
    }
    static char payload[65536];
    memset(payload, 's', sizeof(payload));
    enum { BATCH = 64 };
    struct iovec iov[BATCH];
    struct mmsghdr messages[BATCH];
    memset(messages, 0, sizeof(messages));
    for (int i = 0; i < BATCH; ++i) {
        iov[i].iov_base = payload;
        iov[i].iov_len = size;
        messages[i].msg_hdr.msg_iov = &iov[i];
        messages[i].msg_hdr.msg_iovlen = 1;
    }
    unsigned long sent = 0;
    double start = now();
    double end = start + seconds;
    while (now() < end) {
        int count = sendmmsg(sock, messages, BATCH, 0);
        if (count > 0) {
            sent += (unsigned long)count;
        }
    }
    printf("%lu %.3f\n", sent, now() - start);
    return 0;
}
