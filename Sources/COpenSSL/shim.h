// Bridge header for OpenSSL 3 (Debian: libssl-dev).
// Function-like macros do not import into Swift; tiny static inline
// wrappers for the ones FedMailCrypto needs live here.
#ifndef FEDMAIL_COPENSSL_SHIM_H
#define FEDMAIL_COPENSSL_SHIM_H
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static inline long fedmail_BIO_get_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}

static inline int fedmail_BIO_flush(BIO *bio) {
    return (int)BIO_flush(bio);
}

static inline void fedmail_OPENSSL_free(void *ptr) {
    OPENSSL_free(ptr);
}

static inline void *fedmail_OPENSSL_malloc(size_t num) {
    return OPENSSL_malloc(num);
}

static inline void fedmail_GENERAL_NAMES_free(GENERAL_NAMES *names) {
    GENERAL_NAMES_free(names);
}

static inline unsigned long fedmail_XN_FLAG_RFC2253_UTF8(void) {
    return XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
}

/* STACK_OF(X509) */
static inline STACK_OF(X509) *fedmail_sk_X509_new_null(void) { return sk_X509_new_null(); }
static inline int fedmail_sk_X509_push(STACK_OF(X509) *sk, X509 *x) { return sk_X509_push(sk, x); }
static inline int fedmail_sk_X509_num(const STACK_OF(X509) *sk) { return sk_X509_num(sk); }
static inline X509 *fedmail_sk_X509_value(const STACK_OF(X509) *sk, int i) { return sk_X509_value(sk, i); }
static inline void fedmail_sk_X509_free(STACK_OF(X509) *sk) { sk_X509_free(sk); }
static inline void fedmail_sk_X509_pop_free(STACK_OF(X509) *sk) { sk_X509_pop_free(sk, X509_free); }

/* GENERAL_NAMES (subjectAltName) */
static inline int fedmail_sk_GENERAL_NAME_num(const GENERAL_NAMES *sk) { return sk_GENERAL_NAME_num(sk); }
static inline GENERAL_NAME *fedmail_sk_GENERAL_NAME_value(const GENERAL_NAMES *sk, int i) { return sk_GENERAL_NAME_value(sk, i); }

/* CMS stacks */
static inline int fedmail_sk_CMS_RecipientInfo_num(const STACK_OF(CMS_RecipientInfo) *sk) { return sk_CMS_RecipientInfo_num(sk); }
static inline CMS_RecipientInfo *fedmail_sk_CMS_RecipientInfo_value(const STACK_OF(CMS_RecipientInfo) *sk, int i) { return sk_CMS_RecipientInfo_value(sk, i); }
static inline int fedmail_sk_CMS_SignerInfo_num(const STACK_OF(CMS_SignerInfo) *sk) { return sk_CMS_SignerInfo_num(sk); }
static inline CMS_SignerInfo *fedmail_sk_CMS_SignerInfo_value(const STACK_OF(CMS_SignerInfo) *sk, int i) { return sk_CMS_SignerInfo_value(sk, i); }
static inline int fedmail_sk_CMS_RecipientEncryptedKey_num(const STACK_OF(CMS_RecipientEncryptedKey) *sk) { return sk_CMS_RecipientEncryptedKey_num(sk); }
static inline CMS_RecipientEncryptedKey *fedmail_sk_CMS_RecipientEncryptedKey_value(const STACK_OF(CMS_RecipientEncryptedKey) *sk, int i) { return sk_CMS_RecipientEncryptedKey_value(sk, i); }
#endif
