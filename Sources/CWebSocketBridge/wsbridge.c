/*
 * The libwebsockets side of MQTT over WebSocket (see include/CWebSocketBridge.h).
 *
 * One lws context per connection, serviced on one thread of its own (Debian
 * builds libwebsockets without external-poll support, so its sockets cannot join
 * mqttctl's poll loop). It holds two connections: the WebSocket client to the
 * broker, and the local socket libmosquitto talks to, adopted as a raw socket.
 * Nothing is held back: bytes read on one side are written to the other at once
 * (a WRITEABLE callback only when the socket is full), and an end on either side
 * is passed on at once (a close frame or a TCP end becomes EOF on the local
 * socket, EOF on the local socket becomes a close frame 1000).
 *
 * Every libwebsockets call goes through a table filled by dlopen: the binary is
 * compiled against Debian's headers (4.1.6, soname 17) but maps the library, and
 * its dependencies, only when a WebSocket connection is made.
 */
#define _GNU_SOURCE
#include "CWebSocketBridge.h"

#include <libwebsockets.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the dlopen table ---------------------------------------------------- */

#define WSB_FUNCS(X) \
    X(lws_set_timeout) X(lws_client_connect_via_info) X(lws_adopt_descriptor_vhost) \
    X(lws_rx_flow_control) X(lws_context_user) X(lws_get_context) X(lws_add_http_header_by_name) \
    X(lws_hdr_total_length) X(lws_hdr_copy) X(lws_http_client_http_response) \
    X(lws_frame_is_binary) X(lws_close_reason) X(lws_callback_on_writable) X(lws_write) \
    X(lws_get_socket_fd) X(lws_set_log_level) X(lws_create_context) X(lws_get_vhost_by_name) \
    X(lws_cancel_service) X(lws_service) X(lws_context_destroy) X(lws_send_pipe_choked)

static struct {
#define X(fn) __typeof__(&fn) fn;
    WSB_FUNCS(X)
#undef X
} lws;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[512];
static int loaded;

static void load(void) {
    void *h = dlopen("libwebsockets.so.17", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(load_error, sizeof load_error,
                 "WebSocket needs libwebsockets 4.1 (Debian: apt-get install libwebsockets17): %s", dlerror());
        return;
    }
#define X(fn) \
    if (!(lws.fn = (__typeof__(&fn))dlsym(h, #fn))) { \
        snprintf(load_error, sizeof load_error, "libwebsockets.so.17 lacks %s", #fn); \
        dlclose(h); \
        return; \
    }
    WSB_FUNCS(X)
#undef X
    loaded = 1;
}

int wsb_load(char *err, size_t errlen) {
    pthread_once(&load_once, load);
    if (loaded) return 0;
    snprintf(err, errlen, "%s", load_error);
    return -1;
}

/* ---- the bridge ----------------------------------------------------------- */

struct buffer {
    unsigned char *data;    /* LWS_PRE bytes of headroom before the payload (lws_write needs them) */
    size_t len, off, cap;
};

struct wsb {
    struct wsb_config cfg;           /* strings are our copies */
    char **headers;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    int status_fd;

    struct lws *ws, *local;
    int local_fd;
    int established, ws_done, local_attached, local_done;
    int local_eof;                   /* libmosquitto's side ended: close frame once flushed */
    int end_local_after_flush;       /* the broker's side ended: EOF to libmosquitto once flushed */
    int ws_paused, local_paused;
    int verify_reported;
    int close_frame_seen;
    struct buffer up;                /* local -> broker */
    struct buffer down;              /* broker -> local */

    pthread_mutex_t lock;
    int pending_fd;
    atomic_int stop;
    atomic_int finished;
    atomic_int returned;
};

static __thread struct wsb *creating;

static struct wsb *bridge_of(struct lws *wsi) {
    if (wsi) {
        struct wsb *b = lws.lws_context_user(lws.lws_get_context(wsi));
        if (b) return b;
    }
    return creating;
}

static void hex(char *out, size_t outlen, const void *data, size_t len) {
    static const char digits[] = "0123456789abcdef";
    const unsigned char *d = data;
    size_t i = 0;
    for (; i < len && 2 * i + 2 < outlen; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * i] = 0;
}

static void status(struct wsb *b, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n > (int)sizeof line - 2) n = sizeof line - 2;
    line[n++] = '\n';
    /* A full pipe would mean nobody reads it any more: drop the line. */
    (void)!write(b->status_fd, line, (size_t)n);
}

static int reserve(struct buffer *buf, size_t more) {
    if (buf->off && buf->off == buf->len) buf->off = buf->len = 0;
    if (buf->len + more <= buf->cap) return 0;
    if (buf->off) {
        memmove(buf->data + LWS_PRE, buf->data + LWS_PRE + buf->off, buf->len - buf->off);
        buf->len -= buf->off;
        buf->off = 0;
        if (buf->len + more <= buf->cap) return 0;
    }
    size_t cap = buf->cap ? buf->cap : 16384;
    while (cap < buf->len + more) cap *= 2;
    unsigned char *data = realloc(buf->data, LWS_PRE + cap);
    if (!data) return -1;
    buf->data = data;
    buf->cap = cap;
    return 0;
}

static void check_finished(struct wsb *b) {
    if (b->ws_done && (b->local_done || !b->local_attached)) {
        atomic_store(&b->finished, 1);
    }
}

/* Writes what waits for the local socket; 1 when it is all written. */
static int flush_down(struct wsb *b) {
    while (b->local_fd >= 0 && b->down.off < b->down.len) {
        ssize_t n = send(b->local_fd, b->down.data + LWS_PRE + b->down.off, b->down.len - b->down.off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) { b->down.off += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        /* libmosquitto's side is gone: nothing more can reach it. */
        b->down.off = b->down.len;
        break;
    }
    b->down.off = b->down.len = 0;
    return 1;
}

/* The broker's side has ended: libmosquitto reads what came before, then EOF. */
static void end_local(struct wsb *b) {
    if (!b->local_attached || b->local_fd < 0) return;
    if (flush_down(b)) {
        shutdown(b->local_fd, SHUT_RDWR);
    } else {
        b->end_local_after_flush = 1;
        if (b->local) lws.lws_callback_on_writable(b->local);
    }
}

static void ws_ended(struct wsb *b) {
    b->ws = NULL;
    b->ws_done = 1;
    end_local(b);
    check_finished(b);
}

/* lws 4.1 reads (and so clears) SO_ERROR of a failed connect without keeping it:
 * on that failure path, one more connect (at most 2 s) finds out why. */
static int connect_errno(const char *host, int port) {
    struct addrinfo hints, *found = NULL;
    char service[16];
    int e = 0;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &found) || !found) return 0;
    int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0) {
        if (connect(fd, found->ai_addr, found->ai_addrlen) == 0) {
            e = 0;
        } else if (errno == EINPROGRESS) {
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            if (poll(&p, 1, 2000) == 1) {
                socklen_t sl = sizeof e;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl)) e = 0;
            } else {
                e = ETIMEDOUT;
            }
        } else {
            e = errno;
        }
        close(fd);
    }
    freeaddrinfo(found);
    return e;
}

/* Sends what libmosquitto wrote; 0, or -1 when the WebSocket must close. */
static int flush_up(struct wsb *b) {
    if (!b->ws || !b->established) return 0;
    size_t len = b->up.len - b->up.off;
    if (!len) return 0;
    int n = lws.lws_write(b->ws, b->up.data + LWS_PRE + b->up.off, len, LWS_WRITE_BINARY);
    if (n < (int)len) return -1;
    b->up.off = b->up.len = 0;
    return 0;
}

static void start_ws(struct wsb *b) {
    struct wsb_config *c = &b->cfg;
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof i);
    i.context = b->ctx;
    i.vhost = b->vh;
    i.address = c->host;
    i.port = c->port;
    i.path = c->path;
    i.host = c->host_header;
    i.protocol = c->subprotocol;             /* Sec-WebSocket-Protocol: mqtt */
    i.local_protocol_name = "wsb-ws";
    if (c->tls) {
        i.ssl_connection = LCCSCF_USE_SSL;
        if (c->insecure) i.ssl_connection |= LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
        /* A WebSocket upgrade needs HTTP/1.1; lws would offer h2 otherwise. */
        i.alpn = c->alpn ? c->alpn : "http/1.1";
    }
    i.pwsi = &b->ws;
    errno = 0;
    if (!lws.lws_client_connect_via_info(&i) && !b->ws_done) {
        /* lws 4.1 resolves the name here, synchronously, and says nothing of why it failed. */
        char text[256];
        const char *why = "could not start the WebSocket connection";
        int e = errno;
        struct addrinfo hints, *found = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_socktype = SOCK_STREAM;
        int rc = getaddrinfo(c->host, NULL, &hints, &found);
        if (found) freeaddrinfo(found);
        if (rc) {
            hex(text, sizeof text, gai_strerror(rc), strlen(gai_strerror(rc)));
            status(b, "dns %s", text);
        } else {
            hex(text, sizeof text, why, strlen(why));
            status(b, "error %d %s", e, text);
        }
        ws_ended(b);
    }
}

static void adopt_local(struct wsb *b, int fd) {
    lws_sock_file_fd_type u;
    u.sockfd = fd;
    b->local_attached = 1;
    b->local_fd = fd;
    b->local = lws.lws_adopt_descriptor_vhost(b->vh, LWS_ADOPT_SOCKET, u, "wsb-local", NULL);
    if (!b->local) {
        /* Nothing to carry: libmosquitto sees its connection end. */
        shutdown(fd, SHUT_RDWR);
        close(fd);
        b->local_fd = -1;
        b->local_done = 1;
        if (b->ws) lws.lws_set_timeout(b->ws, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
        check_finished(b);
        return;
    }
    if (b->ws_done) {
        end_local(b);
        return;
    }
    /* What the broker sent before the hand-over (nothing, normally). */
    if (b->down.len > b->down.off) lws.lws_callback_on_writable(b->local);
}

/* The broker's side, and the hooks lws calls on the first protocol only (TLS, wake-ups). */
static int cb_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    struct wsb *b = bridge_of(wsi);
    if (!b) return 0;
    switch (reason) {
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS: {
        /* user is the client SSL_CTX: what the creation info has no field for. */
        SSL_CTX *ctx = (SSL_CTX *)user;
        if (b->cfg.ca_path && !SSL_CTX_load_verify_locations(ctx, NULL, b->cfg.ca_path)) return 1;
        if (b->cfg.use_os_certs || (!b->cfg.ca_file && !b->cfg.ca_path)) SSL_CTX_set_default_verify_paths(ctx);
        if (b->cfg.tls_min_version && !SSL_CTX_set_min_proto_version(ctx, b->cfg.tls_min_version)) return 1;
        /* Here, not through lws, which ignores a list OpenSSL refuses (libmosquitto fails then). */
        if (b->cfg.ciphers && !SSL_CTX_set_cipher_list(ctx, b->cfg.ciphers)) return 1;
        return 0;
    }
    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION: {
        /* user: the X509_STORE_CTX, len: OpenSSL's preverify_ok. OpenSSL's verdict stands. */
        X509_STORE_CTX *x = (X509_STORE_CTX *)user;
        if (!len && x && !b->verify_reported) {
            b->verify_reported = 1;
            status(b, "tls-verify %d %d", X509_STORE_CTX_get_error(x), X509_STORE_CTX_get_error_depth(x));
        }
        return 0;
    }
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
        pthread_mutex_lock(&b->lock);
        int fd = b->pending_fd;
        b->pending_fd = -1;
        pthread_mutex_unlock(&b->lock);
        if (fd >= 0) adopt_local(b, fd);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        unsigned char **p = (unsigned char **)in, *end = *p + len;
        for (int k = 0; k < b->cfg.header_count; k++) {
            const char *header = b->cfg.headers[k];
            const char *colon = strchr(header, ':');
            char name[256];
            if (!colon || colon == header || colon - header > 250) continue;
            snprintf(name, sizeof name, "%.*s:", (int)(colon - header), header);
            const char *value = colon + 1;
            while (*value == ' ' || *value == '\t') value++;
            if (lws.lws_add_http_header_by_name(wsi, (unsigned char *)name, (const unsigned char *)value,
                                                (int)strlen(value), p, end))
                return -1;
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_HTTP_REDIRECT: {
        /* A redirect is the server's answer to our upgrade: report it, do not follow it. */
        char line[128] = "", location[400] = "", hline[260], hloc[804];
        if (lws.lws_hdr_total_length(wsi, WSI_TOKEN_HTTP) > 0) lws.lws_hdr_copy(wsi, line, sizeof line, WSI_TOKEN_HTTP);
        if (lws.lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_LOCATION) > 0)
            lws.lws_hdr_copy(wsi, location, sizeof location, WSI_TOKEN_HTTP_LOCATION);
        hex(hline, sizeof hline, line, strlen(line));
        hex(hloc, sizeof hloc, location, strlen(location));
        status(b, "http %u %s %s", lws.lws_http_client_http_response(wsi), hline, hloc);
        return 1;
    }
    case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH: {
        /* The server must choose the subprotocol we asked for. */
        char proto[64] = "", hproto[130];
        if (lws.lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL) > 0)
            lws.lws_hdr_copy(wsi, proto, sizeof proto, WSI_TOKEN_PROTOCOL);
        if (strcmp(proto, b->cfg.subprotocol) != 0) {
            hex(hproto, sizeof hproto, proto, strlen(proto));
            status(b, "subprotocol %s", hproto);
            return 1;
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        int e = errno;
        if (b->ws_done) return 0;
        if (!lws.lws_http_client_http_response(wsi) && in && strstr((const char *)in, "Unable to connect"))
            e = connect_errno(b->cfg.host, b->cfg.port);
        const char *why = in ? (const char *)in : "";
        unsigned int code = lws.lws_http_client_http_response(wsi);
        char text[520];
        if (code && code != 101) {
            char line[128] = "", hline[260];
            if (lws.lws_hdr_total_length(wsi, WSI_TOKEN_HTTP) > 0) lws.lws_hdr_copy(wsi, line, sizeof line, WSI_TOKEN_HTTP);
            hex(hline, sizeof hline, line, strlen(line));
            status(b, "http %u %s ", code, hline);
        } else if (code == 101 && strstr(why, "PROTOCOL")) {
            /* lws refused a subprotocol other than the one asked for before our filter ran. */
            char proto[64] = "", hproto[130];
            if (lws.lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL) > 0)
                lws.lws_hdr_copy(wsi, proto, sizeof proto, WSI_TOKEN_PROTOCOL);
            hex(hproto, sizeof hproto, proto, strlen(proto));
            status(b, "subprotocol %s", hproto);
        }
        hex(text, sizeof text, why, strlen(why));
        status(b, "error %d %s", e, text);
        ws_ended(b);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED: {
        char proto[64] = "", hproto[130];
        b->established = 1;
        if (lws.lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL) > 0)
            lws.lws_hdr_copy(wsi, proto, sizeof proto, WSI_TOKEN_PROTOCOL);
        hex(hproto, sizeof hproto, proto, strlen(proto));
        {
            /* Our bytes leave at once (as TCP_NODELAY on mqttctl's own sockets). */
            int one = 1;
            setsockopt(lws.lws_get_socket_fd(wsi), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        status(b, "ready %s", hproto);
        if (b->up.len > b->up.off && flush_up(b)) return -1;
        return 0;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (!lws.lws_frame_is_binary(wsi)) {
            /* MQTT over WebSocket is binary frames only [MQTT-6.0.0-1]. */
            status(b, "text-frame");
            lws.lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, NULL, 0);
            return -1;
        }
        {
            /* As mqttctl's acknowledgeNow: ACK the broker at once, or its Nagle may hold
             * back its next small packet (a DISCONNECT) for our delayed ACK (40 ms). */
            int one = 1;
            setsockopt(lws.lws_get_socket_fd(wsi), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
        }
        const unsigned char *d = in;
        size_t off = 0;
        if (b->local_fd >= 0 && b->down.len == b->down.off) {
            while (off < len) {
                ssize_t n = send(b->local_fd, d + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n > 0) { off += (size_t)n; continue; }
                if (n < 0 && errno == EINTR) continue;
                if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) off = len;  /* the local side is gone */
                break;
            }
        }
        if (off < len) {
            /* libmosquitto is not reading now: keep the rest, read no more from the broker. */
            if (reserve(&b->down, len - off)) return -1;
            memcpy(b->down.data + LWS_PRE + b->down.len, d + off, len - off);
            b->down.len += len - off;
            if (!b->ws_paused) { lws.lws_rx_flow_control(wsi, 0); b->ws_paused = 1; }
            if (b->local) lws.lws_callback_on_writable(b->local);
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (flush_up(b)) return -1;
        if (b->local_paused && b->local && !b->local_eof) {
            lws.lws_rx_flow_control(b->local, 1);
            b->local_paused = 0;
        }
        if (b->local_eof) {
            lws.lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
        const unsigned char *c = in;
        int code = len >= 2 ? (c[0] << 8 | c[1]) : 1005;
        char reason[260];
        hex(reason, sizeof reason, len > 2 ? c + 2 : c, len > 2 ? len - 2 : 0);
        status(b, "close %d %s", code, reason);
        b->close_frame_seen = 1;
        end_local(b);
        return 0;   /* lws answers the close frame and closes */
    }
    case LWS_CALLBACK_CLIENT_CLOSED: {
        int reset = errno == ECONNRESET;
        if (b->ws_done) return 0;
        if (!b->close_frame_seen) status(b, "end %s", reset ? "reset" : "fin");
        ws_ended(b);
        return 0;
    }
    default:
        return 0;
    }
}

/* The local side: libmosquitto's socket. */
static int cb_local(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    (void)user;
    struct wsb *b = bridge_of(wsi);
    if (!b || wsi != b->local) return 0;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX:
        if (!b->ws) return 0;   /* the broker is gone: libmosquitto gets EOF soon */
        if (reserve(&b->up, len)) return -1;
        memcpy(b->up.data + LWS_PRE + b->up.len, in, len);
        b->up.len += len;
        if (b->established && !lws.lws_send_pipe_choked(b->ws)) {
            /* At once (lws keeps an unsent rest itself and finishes it first). */
            if (flush_up(b)) {
                lws.lws_set_timeout(b->ws, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
                return -1;
            }
            return 0;
        }
        if (!b->local_paused) { lws.lws_rx_flow_control(wsi, 0); b->local_paused = 1; }
        lws.lws_callback_on_writable(b->ws);
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE:
        if (!flush_down(b)) {
            lws.lws_callback_on_writable(wsi);
            return 0;
        }
        if (b->end_local_after_flush) {
            b->end_local_after_flush = 0;
            shutdown(b->local_fd, SHUT_RDWR);
        }
        if (b->ws_paused && b->ws) {
            lws.lws_rx_flow_control(b->ws, 1);
            b->ws_paused = 0;
        }
        return 0;
    case LWS_CALLBACK_RAW_CLOSE:
        b->local = NULL;
        b->local_fd = -1;            /* lws closes it */
        b->local_done = 1;
        if (b->ws) {
            /* libmosquitto ended (after DISCONNECT, or aborting): flush, then close frame 1000. */
            b->local_eof = 1;
            if (b->established) lws.lws_callback_on_writable(b->ws);
            else lws.lws_set_timeout(b->ws, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
        }
        check_finished(b);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    { "wsb-ws", cb_ws, 0, 16384, 0, NULL, 0 },
    { "wsb-local", cb_local, 0, 16384, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

static char *copy(const char *s) { return s ? strdup(s) : NULL; }

static void free_config(struct wsb *b) {
    struct wsb_config *c = &b->cfg;
    free((void *)c->host); free((void *)c->path); free((void *)c->host_header); free((void *)c->subprotocol);
    free((void *)c->ca_file); free((void *)c->ca_path); free((void *)c->cert_file); free((void *)c->key_file);
    free((void *)c->ciphers); free((void *)c->alpn);
    for (int k = 0; k < c->header_count; k++) free(b->headers[k]);
    free(b->headers);
}

struct wsb *wsb_new(const struct wsb_config *cfg, int status_fd, char *err, size_t errlen) {
    if (wsb_load(err, errlen)) return NULL;
    struct wsb *b = calloc(1, sizeof *b);
    if (!b) { snprintf(err, errlen, "out of memory"); return NULL; }
    b->cfg = *cfg;
    struct wsb_config *c = &b->cfg;
    c->host = copy(cfg->host); c->path = copy(cfg->path); c->host_header = copy(cfg->host_header);
    c->subprotocol = copy(cfg->subprotocol ? cfg->subprotocol : "mqtt");
    c->ca_file = copy(cfg->ca_file); c->ca_path = copy(cfg->ca_path);
    c->cert_file = copy(cfg->cert_file); c->key_file = copy(cfg->key_file);
    c->ciphers = copy(cfg->ciphers); c->alpn = copy(cfg->alpn);
    b->headers = calloc((size_t)(cfg->header_count > 0 ? cfg->header_count : 1), sizeof(char *));
    for (int k = 0; b->headers && k < cfg->header_count; k++) b->headers[k] = copy(cfg->headers[k]);
    c->headers = (const char *const *)b->headers;
    b->status_fd = status_fd;
    b->local_fd = -1;
    b->pending_fd = -1;
    pthread_mutex_init(&b->lock, NULL);

    if (c->tls && c->ciphers) {
        /* lws ignores a cipher list OpenSSL refuses; libmosquitto fails then, and so do we. */
        SSL_CTX *check = SSL_CTX_new(TLS_client_method());
        int ok = check && SSL_CTX_set_cipher_list(check, c->ciphers);
        if (check) SSL_CTX_free(check);
        if (!ok) {
            snprintf(err, errlen, "tls: cannot set up TLS: OpenSSL accepts none of the ciphers in '%s'", c->ciphers);
            free_config(b);
            pthread_mutex_destroy(&b->lock);
            free(b);
            return NULL;
        }
    }
    lws.lws_set_log_level(0, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = b;
    info.gid = -1;
    info.uid = -1;
    /* ws:// needs no TLS at all: no client SSL_CTX, no CA store (about 100 ms). */
    info.options = LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
    if (c->tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.client_ssl_ca_filepath = c->ca_file;
        info.client_ssl_cert_filepath = c->cert_file;
        info.client_ssl_private_key_filepath = c->key_file;
        /* lws's own OS certificate loading parses the whole bundle; OpenSSL's default
         * paths (as libmosquitto uses them) look certificates up lazily instead. */
    }
    info.timeout_secs = c->timeout_s > 0 ? (unsigned int)c->timeout_s : 20;
    info.connect_timeout_secs = info.timeout_secs;
    creating = b;
    b->ctx = lws.lws_create_context(&info);
    creating = NULL;
    if (!b->ctx) {
        snprintf(err, errlen, c->tls ? "tls: cannot set up TLS (the CA file or directory, the client certificate "
                                       "and key, the cipher list or the TLS version were not accepted)"
                                     : "cannot set up libwebsockets");
        free_config(b);
        pthread_mutex_destroy(&b->lock);
        free(b);
        return NULL;
    }
    b->vh = lws.lws_get_vhost_by_name(b->ctx, "default");
    return b;
}

void wsb_run(struct wsb *b) {
    start_ws(b);
    while (!atomic_load(&b->stop) && !atomic_load(&b->finished)) {
        if (lws.lws_service(b->ctx, 0) < 0) break;
    }
    atomic_store(&b->returned, 1);
}

int wsb_returned(struct wsb *b) { return atomic_load(&b->returned); }

int wsb_attach(struct wsb *b, int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
    pthread_mutex_lock(&b->lock);
    int ok = b->pending_fd < 0;
    if (ok) b->pending_fd = fd;
    pthread_mutex_unlock(&b->lock);
    if (ok) lws.lws_cancel_service(b->ctx);
    return ok ? 0 : -1;
}

void wsb_stop(struct wsb *b) {
    atomic_store(&b->stop, 1);
    lws.lws_cancel_service(b->ctx);
}


void wsb_destroy(struct wsb *b) {
    lws.lws_context_destroy(b->ctx);
    pthread_mutex_lock(&b->lock);
    int fd = b->pending_fd;
    pthread_mutex_unlock(&b->lock);
    if (fd >= 0) close(fd);
    free(b->up.data);
    free(b->down.data);
    free_config(b);
    pthread_mutex_destroy(&b->lock);
    free(b);
}
