// The whole C surface mqttctl uses: libmosquitto, its MQTT constants, and the
// few OpenSSL calls needed on libmosquitto's own TLS session (sending a raw
// PINGREQ over TLS, checking for buffered TLS data, naming a certificate
// verification failure). Nothing else lives here on purpose.
#ifndef MQTTCTL_CMOSQUITTO_SHIM_H
#define MQTTCTL_CMOSQUITTO_SHIM_H

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/err.h>

#endif
