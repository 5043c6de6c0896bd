#ifndef ACCORD_COPENSSL_WRAPPERS_H
#define ACCORD_COPENSSL_WRAPPERS_H

// Small wrappers around OpenSSL 3.0 macros and variadic functions that Swift cannot import.
// Each is a one-line forward to the real API; no logic lives here.

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

/// `BIO_pending` is a macro over `BIO_ctrl`.
static inline long accord_BIO_pending(BIO *bio) { return (long)BIO_ctrl_pending(bio); }

/// `BIO_get_mem_data` is a macro over `BIO_ctrl`.
static inline long accord_BIO_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }

/// `OPENSSL_free` is a macro that records the call site.
static inline void accord_OPENSSL_free(void *pointer) { OPENSSL_free(pointer); }

/// `EVP_EC_gen` is a macro over the variadic `EVP_PKEY_Q_keygen`.
static inline EVP_PKEY *accord_generate_p256_key(void) { return EVP_EC_gen("P-256"); }

/// `SSL_CTX_set_min_proto_version` and `_max_` are macros over `SSL_CTX_ctrl`.
static inline int accord_SSL_CTX_set_min_proto_version(SSL_CTX *context, int version) {
    return (int)SSL_CTX_set_min_proto_version(context, version);
}
static inline int accord_SSL_CTX_set_max_proto_version(SSL_CTX *context, int version) {
    return (int)SSL_CTX_set_max_proto_version(context, version);
}

/// `SSL_get_ex_new_index` is a macro over `CRYPTO_get_ex_new_index`.
static inline int accord_SSL_get_ex_new_index(void) {
    return SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/// `BIO_set_mem_eof_return` is a macro over `BIO_ctrl`. -1 makes an empty memory BIO say "retry"
/// (want more input) rather than "end of file".
static inline void accord_BIO_set_mem_eof_return(BIO *bio, int value) { BIO_set_mem_eof_return(bio, value); }

/// `SSL_CTX_set_options` takes 64-bit `SSL_OP_*` macros Swift cannot import.
static inline void accord_SSL_CTX_disable_renegotiation_and_compression(SSL_CTX *context) {
    SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
}

/// `SSL_CTX_set_max_cert_list` is a macro over `SSL_CTX_ctrl`: the most bytes of certificate
/// chain a peer may send in its handshake.
static inline void accord_SSL_CTX_set_max_cert_list(SSL_CTX *context, long bytes) { SSL_CTX_set_max_cert_list(context, bytes); }

/// `SSL_CTX_set_mode` is a macro over `SSL_CTX_ctrl`. `SSL_MODE_RELEASE_BUFFERS` frees a
/// connection's record buffers (about 34 KiB) whenever they are empty: an idle session, the usual
/// state of most of a node's many peer sessions, then holds none.
static inline void accord_SSL_CTX_release_idle_buffers(SSL_CTX *context) { SSL_CTX_set_mode(context, SSL_MODE_RELEASE_BUFFERS); }


/// SNI for a client connection (`SSL_set_tlsext_host_name` is a macro).
static inline int accord_SSL_set_tlsext_host_name(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }

#endif
