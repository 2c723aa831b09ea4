/*
 * CWebSocketBridge: carries one local byte stream (libmosquitto's connection to
 * a private unix socket) over one MQTT-over-WebSocket client connection, with
 * Debian's libwebsockets 4.1 (soname 17), loaded with dlopen on first use.
 *
 * No libwebsockets type appears here: callers see a configuration of plain C
 * values, an opaque bridge, and events written as text lines to a file
 * descriptor of theirs (see "Status lines" below). The Swift side is
 * Sources/Mosquitto/WebSocketBridge.swift.
 *
 * Status lines (one write each, shorter than PIPE_BUF; TEXT is hex-encoded):
 *   ready PROTO-HEX                the upgrade succeeded; the server chose PROTO
 *   http CODE STATUS-HEX LOC-HEX   the server answered the upgrade with CODE (not 101):
 *                                  STATUS is its status line after "HTTP/1.1 ", LOC a Location
 *   subprotocol PROTO-HEX          the server chose PROTO (empty: none), not ours
 *   tls-verify CODE DEPTH          OpenSSL's certificate verification failed (X509_V_ERR_*)
 *   dns TEXT-HEX                   the host name could not be resolved (gai_strerror)
 *   error ERRNO TEXT-HEX           the connection failed before the upgrade (libwebsockets' words,
 *                                  errno as it was then: ECONNREFUSED...)
 *   close CODE REASON-HEX          the server sent a close frame (1005: no code)
 *   end fin|reset                  the server's TCP connection ended
 *   text-frame                     the server sent a text frame (MQTT allows binary only)
 */
#ifndef MQTTCTL_CWEBSOCKETBRIDGE_H
#define MQTTCTL_CWEBSOCKETBRIDGE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct wsb_config {
    const char *host;              /* TCP connect and TLS SNI */
    int port;
    const char *path;              /* "/mqtt" */
    const char *host_header;       /* "host:port" */
    const char *subprotocol;       /* "mqtt" */
    const char *const *headers;    /* "Name: value" lines */
    int header_count;
    int tls;                       /* wss:// */
    const char *ca_file, *ca_path, *cert_file, *key_file, *ciphers, *alpn;
    int use_os_certs;              /* also trust OpenSSL's default CA locations */
    int insecure;                  /* skip the host name check only */
    int tls_min_version;           /* 0x0303 = TLS 1.2 ...; 0: OpenSSL's default */
    int timeout_s;                 /* libwebsockets' own connect/handshake timeout */
};

struct wsb;

/* Loads libwebsockets (once). 0, or -1 with a sentence in err. Thread-safe. */
int wsb_load(char *err, size_t errlen);

/* A bridge for one connection; copies cfg. status_fd stays the caller's (it is
 * not closed). NULL with a sentence in err (TLS set-up errors start "tls: "). */
struct wsb *wsb_new(const struct wsb_config *cfg, int status_fd, char *err, size_t errlen);

/* The bridge thread's body: starts the WebSocket connection and services it
 * until both sides have ended (no more status lines follow then) or wsb_stop.
 * Call it on one thread only. */
void wsb_run(struct wsb *b);

/* From any thread: hands over the local socket (after "ready"). 0 or -1. */
int wsb_attach(struct wsb *b, int fd);

/* From any thread: wsb_run returns soon (the connections are dropped by wsb_destroy). */
void wsb_stop(struct wsb *b);

/* Whether wsb_run has returned (then the thread can be joined at once). */
int wsb_returned(struct wsb *b);

/* After wsb_run has returned: frees everything (closes the sockets it holds). */
void wsb_destroy(struct wsb *b);

#ifdef __cplusplus
}
#endif

#endif
