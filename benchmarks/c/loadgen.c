/*
 * gonet benchmark load generator (compiled by the suite at benchmark time).
 *
 * Layer: benchmarks, outside gonet. One single-threaded epoll loop that drives
 * many connections, so the client costs little CPU next to a Python server.
 * Five modes:
 *
 *   echo  -p PORT -c CONNS -s SIZE -d SECS -w WARMUP
 *         TCP ping-pong: every connection sends SIZE bytes, waits until SIZE
 *         bytes came back, sends again. Counts round trips in the measured
 *         window (after WARMUP seconds) and prints one JSON line.
 *   http  -p PORT -c CONNS -d SECS -w WARMUP [-P PATH]
 *         HTTP/1.1 keep-alive GET loop, one request in flight per connection
 *         (the fallback when wrk is missing). Responses are framed by
 *         Content-Length; chunked responses are counted as errors.
 *   idle  -p PORT -c CONNS [-P PATH]
 *         Opens CONNS connections (at most 256 handshakes in flight), sends
 *         one GET on each and reads its response, so each is an idle
 *         keep-alive connection on the server. Prints one JSON line when all
 *         are open, then holds them until stdin reaches EOF, counting the ones
 *         the server closes meanwhile, and prints a second JSON line.
 *   ws    -p PORT -c CONNS -s SIZE -d SECS -w WARMUP [-P PATH]
 *         WebSocket ping-pong: each connection upgrades (GET with
 *         Upgrade: websocket, waits for the 101), then sends one masked text
 *         frame of SIZE bytes and waits for the server's unmasked frame of
 *         SIZE bytes back (an echo), and again. SIZE < 65536.
 *   wsidle -p PORT -c CONNS [-P PATH]
 *         As idle, with a WebSocket upgrade instead of a GET: holds CONNS
 *         open WebSockets that send nothing.
 *
 * Per-connection state machine (echo/http/ws): SENDING (part of the request is
 * still unwritten; EPOLLOUT armed) -> WAITING (request written, collecting the
 * reply) -> reply complete: record latency, back to SENDING. In idle mode:
 * CONNECTING -> SENDING -> WAITING -> IDLE (watching only for a close).
 * Invariant: exactly one request is outstanding per connection.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ST_CONNECTING, ST_SENDING, ST_WAITING, ST_IDLE, ST_CLOSED };

#define BUFSZ 8192
#define HIST_US 2000000 /* latency histogram: 1 us buckets up to 2 s */

typedef struct {
    int fd;
    int state;
    size_t sent;  /* bytes of the current request written */
    size_t got;   /* bytes of the current reply buffered/consumed */
    double t_sent;
    char buf[BUFSZ];
} conn_t;

static uint32_t *hist;
static uint64_t hist_over;
static const char *host = "127.0.0.1";
static int port, nconns = 64, msgsize = 100;
static double duration = 5.0, warmup = 1.0;
static const char *path = "/";
static char req[1024];
static size_t reqlen;
static int ws; /* ws/wsidle: the request is an upgrade, the reply a 101 head */
static char *wsframe; /* ws: one masked text frame of msgsize bytes */
static size_t wsframelen, wsreplylen;
static struct sockaddr_in addr;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int open_socket(int nonblock_connect, int *inprogress) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *inprogress = 0;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        if (errno != EINPROGRESS) { close(fd); return -1; }
        *inprogress = 1;
        if (!nonblock_connect) {
            /* wait for the handshake with a private epoll */
            int ep = epoll_create1(0);
            struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
            int n = epoll_wait(ep, &ev, 1, 5000);
            close(ep);
            int err = 0; socklen_t l = sizeof err;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
            if (n != 1 || err) { close(fd); return -1; }
            *inprogress = 0;
        }
    }
    return fd;
}

static void record(double lat) {
    double us = lat * 1e6;
    if (us < 0) us = 0;
    if (us >= HIST_US) hist_over++;
    else hist[(size_t)us]++;
}

static double percentile(uint64_t total, double p) {
    if (total == 0) return 0;
    uint64_t want = (uint64_t)(p * total), seen = 0;
    if (want == 0) want = 1;
    for (size_t i = 0; i < HIST_US; i++) {
        seen += hist[i];
        if (seen >= want) return i / 1000.0;
    }
    return HIST_US / 1000.0;
}

/* Returns the length of a complete HTTP response in c->buf, 0 if incomplete, -1 if unusable. */
static long http_complete(conn_t *c, int *status, int *closing) {
    c->buf[c->got < BUFSZ ? c->got : BUFSZ - 1] = 0;
    char *end = memmem(c->buf, c->got, "\r\n\r\n", 4);
    if (!end) return c->got >= BUFSZ - 1 ? -1 : 0;
    size_t head = (size_t)(end - c->buf) + 4;
    *status = atoi(c->buf + 9);
    if (ws) { *closing = 0; return *status == 101 && head == c->got ? (long)head : -1; }
    long cl = -1;
    *closing = 0;
    for (char *line = strstr(c->buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        char *l = line + 2;
        if (strncasecmp(l, "content-length:", 15) == 0) cl = atol(l + 15);
        else if (strncasecmp(l, "connection:", 11) == 0) {
            char *eol = strstr(l, "\r\n"), *cl_at = strcasestr(l, "close");
            if (cl_at && cl_at < eol) *closing = 1;
        }
        else if (strncasecmp(l, "transfer-encoding:", 18) == 0) return -1;
    }
    if (cl < 0) return -1;
    if (head + cl > c->got) return head + cl >= BUFSZ ? -1 : 0;
    return (long)(head + cl);
}

static int ep;

static void arm(conn_t *c, uint32_t events, int op) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(ep, op, c->fd, &ev);
}

/* Write what is left of the request; arms EPOLLOUT when the socket is full. 0 ok, -1 error. */
static int send_req(conn_t *c, const char *data, size_t len, double t) {
    if (c->sent == 0) c->t_sent = t;
    while (c->sent < len) {
        ssize_t n = write(c->fd, data + c->sent, len - c->sent);
        if (n < 0) {
            if (errno == EAGAIN) { arm(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD); c->state = ST_SENDING; return 0; }
            return -1;
        }
        c->sent += (size_t)n;
    }
    if (c->state == ST_SENDING) arm(c, EPOLLIN, EPOLL_CTL_MOD);
    c->state = ST_WAITING;
    c->got = 0;
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: loadgen echo|http|idle|ws|wsidle -p PORT [-c CONNS] [-s SIZE] [-d SECS] [-w SECS] [-P PATH]\n");
    exit(2);
}

/* ws: upgrade a connected socket, blocking on a private epoll (5 s at most). 0 ok. */
static int ws_upgrade(int fd) {
    if (write(fd, req, reqlen) != (ssize_t)reqlen) return -1;
    char buf[BUFSZ];
    size_t got = 0;
    int pe = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(pe, EPOLL_CTL_ADD, fd, &ev);
    int rc = -1;
    double end = now() + 5.0;
    while (now() < end) {
        ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
        if (r == 0) break;
        if (r < 0) {
            if (errno != EAGAIN) break;
            epoll_wait(pe, &ev, 1, 100);
            continue;
        }
        got += (size_t)r;
        buf[got] = 0;
        char *e = memmem(buf, got, "\r\n\r\n", 4);
        if (e) { rc = (atoi(buf + 9) == 101 && (size_t)(e - buf) + 4 == got) ? 0 : -1; break; }
        if (got >= sizeof buf - 1) break;
    }
    close(pe);
    return rc;
}

static void ws_build_frame(void) {
    static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t hl = msgsize < 126 ? 2 : 4;
    wsframelen = hl + 4 + (size_t)msgsize;
    wsframe = malloc(wsframelen);
    wsframe[0] = (char)0x81; /* FIN, text */
    if (msgsize < 126) wsframe[1] = (char)(0x80 | msgsize);
    else { wsframe[1] = (char)(0x80 | 126); wsframe[2] = (char)(msgsize >> 8); wsframe[3] = (char)(msgsize & 0xff); }
    memcpy(wsframe + hl, key, 4);
    for (int i = 0; i < msgsize; i++) wsframe[hl + 4 + i] = (char)('x' ^ key[i % 4]);
    wsreplylen = hl + (size_t)msgsize; /* the server's frame: same header, no mask */
}

static int run_loop(int http) {
    char *msg = malloc(msgsize);
    memset(msg, 'x', msgsize);
    const char *payload = http ? req : ws ? wsframe : msg;
    size_t plen = http ? reqlen : ws ? wsframelen : (size_t)msgsize;
    size_t want = ws ? wsreplylen : (size_t)msgsize;
    conn_t *cs = calloc(nconns, sizeof *cs);
    ep = epoll_create1(0);
    int open_ok = 0, errors = 0, reconnects = 0;
    for (int i = 0; i < nconns; i++) {
        int inprog;
        cs[i].fd = open_socket(0, &inprog);
        if (cs[i].fd < 0) { errors++; cs[i].state = ST_CLOSED; continue; }
        if (ws && ws_upgrade(cs[i].fd) < 0) { errors++; close(cs[i].fd); cs[i].state = ST_CLOSED; continue; }
        open_ok++;
        cs[i].state = ST_WAITING;
        arm(&cs[i], EPOLLIN, EPOLL_CTL_ADD);
    }
    if (open_ok == 0) {
        printf("{\"error\": \"could not connect to %s:%d\"}\n", host, port);
        return 1;
    }
    double t0 = now(), tstart = t0 + warmup, tend = tstart + duration;
    for (int i = 0; i < nconns; i++)
        if (cs[i].state != ST_CLOSED) { cs[i].sent = 0; cs[i].state = ST_WAITING; send_req(&cs[i], payload, plen, t0); }
    uint64_t done = 0, non2xx = 0;
    struct epoll_event evs[256];
    for (;;) {
        double t = now();
        if (t >= tend) break;
        int n = epoll_wait(ep, evs, 256, 50);
        t = now();
        for (int k = 0; k < n; k++) {
            conn_t *c = evs[k].data.ptr;
            if (c->state == ST_CLOSED) continue;
            if (c->state == ST_SENDING && (evs[k].events & EPOLLOUT)) {
                if (send_req(c, payload, plen, t) < 0) goto broken;
                continue;
            }
            for (;;) {
                ssize_t r = read(c->fd, c->buf + c->got, BUFSZ - 1 - c->got);
                if (r < 0) { if (errno == EAGAIN) break; goto broken; }
                if (r == 0) goto broken;
                c->got += (size_t)r;
                int complete = 0, status = 200, closing = 0;
                if (http) {
                    long len = http_complete(c, &status, &closing);
                    if (len < 0) goto broken;
                    complete = len > 0;
                } else {
                    complete = c->got >= want;
                }
                if (!complete) continue;
                if (t >= tstart) {
                    done++;
                    record(t - c->t_sent);
                    if (status < 200 || status >= 400) non2xx++;
                }
                c->sent = 0;
                if (closing) goto reconnect;
                if (send_req(c, payload, plen, t) < 0) goto broken;
                break;
            }
            continue;
        broken:
            if (t >= tstart) errors++;
        reconnect:
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->state = ST_CLOSED;
            if (http) { /* HTTP: open a fresh connection, as wrk does */
                int inprog;
                c->fd = open_socket(0, &inprog);
                if (c->fd >= 0) {
                    reconnects++;
                    c->state = ST_WAITING; c->sent = 0;
                    arm(c, EPOLLIN, EPOLL_CTL_ADD);
                    send_req(c, payload, plen, t);
                }
            }
        }
    }
    double elapsed = now() - tstart;
    uint64_t total = done;
    printf("{\"mode\": \"%s\", \"connections\": %d, \"seconds\": %.3f, \"count\": %llu, "
           "\"rate\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"errors\": %d, "
           "\"non2xx\": %llu, \"reconnects\": %d, \"over_2s\": %llu}\n",
           http ? "http" : ws ? "ws" : "echo", open_ok, elapsed, (unsigned long long)total, total / elapsed,
           percentile(total, 0.50), percentile(total, 0.99), errors,
           (unsigned long long)non2xx, reconnects, (unsigned long long)hist_over);
    return 0;
}

static int run_idle(void) {
    conn_t *cs = calloc(nconns, sizeof *cs);
    ep = epoll_create1(0);
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev); /* stdin: EOF means "let go" */
    int next = 0, inflight = 0, idle = 0, failed = 0, closed = 0, stdin_eof = 0;
    double t0 = now();
    struct epoll_event evs[512];
    for (;;) {
        /* keep at most 256 connections between connect() and their response */
        while (next < nconns && inflight < 256) {
            conn_t *c = &cs[next++];
            int inprog;
            c->fd = open_socket(1, &inprog);
            if (c->fd < 0) { failed++; c->state = ST_CLOSED; continue; }
            inflight++;
            c->sent = 0;
            if (inprog) { c->state = ST_CONNECTING; arm(c, EPOLLOUT, EPOLL_CTL_ADD); }
            else { c->state = ST_SENDING; arm(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_ADD); }
        }
        if (next >= nconns && inflight == 0 && idle + failed + closed >= nconns) {
            if (t0 > 0) {
                printf("{\"mode\": \"%s\", \"opened\": %d, \"failed\": %d, \"seconds\": %.3f}\n",
                       ws ? "wsidle" : "idle", idle, failed + closed, now() - t0);
                fflush(stdout);
                t0 = 0;
            }
            if (stdin_eof) break;
        }
        int n = epoll_wait(ep, evs, 512, 1000);
        for (int k = 0; k < n; k++) {
            conn_t *c = evs[k].data.ptr;
            if (c == NULL) {
                char b[64];
                ssize_t r = read(0, b, sizeof b);
                if (r <= 0) { stdin_eof = 1; epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL); }
                continue;
            }
            if (c->state == ST_CLOSED) continue;
            if (c->state == ST_CONNECTING) {
                int err = 0; socklen_t l = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
                if (err) goto fail;
                c->state = ST_SENDING;
                arm(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
            }
            if (c->state == ST_SENDING) {
                if (send_req(c, req, reqlen, now()) < 0) goto fail;
                continue;
            }
            if (c->state == ST_WAITING) {
                ssize_t r = read(c->fd, c->buf + c->got, BUFSZ - 1 - c->got);
                if (r < 0 && errno == EAGAIN) continue;
                if (r <= 0) goto fail;
                c->got += (size_t)r;
                int status, closing;
                long len = http_complete(c, &status, &closing);
                if (len < 0 || closing) goto fail;
                if (len > 0) { c->state = ST_IDLE; inflight--; idle++; arm(c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD); }
                continue;
            }
            if (c->state == ST_IDLE) {
                char b[256];
                ssize_t r = read(c->fd, b, sizeof b);
                if (r < 0 && errno == EAGAIN) continue;
                idle--; closed++; /* the server let go of an idle connection */
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->state = ST_CLOSED;
            }
            continue;
        fail:
            inflight--; failed++;
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->state = ST_CLOSED;
        }
        if (stdin_eof && t0 > 0 && now() - t0 > 120) break; /* give up on a stuck server */
    }
    printf("{\"mode\": \"idle\", \"still_open\": %d, \"closed_by_server\": %d}\n", idle, closed);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    const char *mode = argv[1];
    int opt;
    optind = 2;
    while ((opt = getopt(argc, argv, "h:p:c:s:d:w:P:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': nconns = atoi(optarg); break;
        case 's': msgsize = atoi(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 'P': path = optarg; break;
        default: usage();
        }
    }
    if (port <= 0 || nconns <= 0 || msgsize <= 0) usage();
    raise_nofile();
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) { fprintf(stderr, "bad host %s\n", host); return 2; }
    ws = strcmp(mode, "ws") == 0 || strcmp(mode, "wsidle") == 0;
    if (ws) {
        if (msgsize >= 65536) usage();
        reqlen = (size_t)snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
                                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Version: 13\r\n\r\n", path, host, port);
        ws_build_frame();
    } else {
        reqlen = (size_t)snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n", path, host, port);
    }
    hist = calloc(HIST_US, sizeof *hist);
    if (strcmp(mode, "echo") == 0) return run_loop(0);
    if (strcmp(mode, "http") == 0) return run_loop(1);
    if (strcmp(mode, "idle") == 0) return run_idle();
    if (strcmp(mode, "ws") == 0) return run_loop(0);
    if (strcmp(mode, "wsidle") == 0) return run_idle();
    usage();
    return 2;
}
