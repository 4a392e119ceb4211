// Bridge header for OpenSSL 3 (Debian: libssl-dev).
// Function-like macros do not import into Swift; tiny static inline
// wrappers for the ones FedMailCrypto needs live here.
#ifndef FEDMAIL_COPENSSL_SHIM_H
#define FEDMAIL_COPENSSL_SHIM_H
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static inline long fedmail_BIO_get_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}

static inline void fedmail_OPENSSL_free(void *ptr) {
    OPENSSL_free(ptr);
}
#endif
