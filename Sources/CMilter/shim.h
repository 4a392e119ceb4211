// Bridge header for libmilter (Debian: libmilter-dev).
#ifndef FEDMAIL_CMILTER_SHIM_H
#define FEDMAIL_CMILTER_SHIM_H
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>
#ifdef __linux__
#include <sys/vfs.h>
#include <malloc.h>

/// Gives the C heap's free memory back to the kernel (glibc malloc_trim over
/// every arena); returns 1 when some memory was released.
static inline int fedmail_release_free_heap(void) { return malloc_trim(0); }

/// Whether `path` is on a tmpfs (TMPFS_MAGIC); 0 when not or on error.
static inline int fedmail_is_tmpfs(const char *path) {
    struct statfs info;
    return statfs(path, &info) == 0 && info.f_type == 0x01021994;
}
#else
static inline int fedmail_is_tmpfs(const char *path) { (void)path; return 0; }
static inline int fedmail_release_free_heap(void) { return 0; }
#endif

/// The most lines smfi_setmlreply accepts.
#define FEDMAIL_MAX_REPLY_LINES 32

/// smfi_setmlreply is variadic, which Swift cannot call: this takes the
/// lines as an array (count 1...FEDMAIL_MAX_REPLY_LINES) and spreads them.
static inline int fedmail_setmlreply(SMFICTX *ctx, const char *rcode, const char *xcode,
                                     const char *const *l, int count) {
    switch (count) {
    case 1: return smfi_setmlreply(ctx, rcode, xcode, l[0], (char *)NULL);
    case 2: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], (char *)NULL);
    case 3: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], (char *)NULL);
    case 4: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], (char *)NULL);
    case 5: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], (char *)NULL);
    case 6: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], (char *)NULL);
    case 7: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], (char *)NULL);
    case 8: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], (char *)NULL);
    case 9: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], (char *)NULL);
    case 10: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], (char *)NULL);
    case 11: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], (char *)NULL);
    case 12: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], (char *)NULL);
    case 13: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], (char *)NULL);
    case 14: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], (char *)NULL);
    case 15: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], (char *)NULL);
    case 16: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], (char *)NULL);
    case 17: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16], (char *)NULL);
    case 18: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16], l[17], (char *)NULL);
    case 19: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16], l[17], l[18], (char *)NULL);
    case 20: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16], l[17], l[18], l[19], (char *)NULL);
    case 21: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16], l[17], l[18], l[19], l[20], (char *)NULL);
    case 22: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16], l[17], l[18], l[19], l[20], l[21], (char *)NULL);
    case 23: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16], l[17], l[18], l[19], l[20], l[21], l[22], (char *)NULL);
    case 24: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16], l[17], l[18], l[19], l[20], l[21], l[22], l[23], (char *)NULL);
    case 25: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16], l[17], l[18], l[19], l[20], l[21], l[22], l[23], l[24], (char *)NULL);
    case 26: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16], l[17], l[18], l[19], l[20], l[21], l[22], l[23], l[24], l[25], (char *)NULL);
    case 27: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16], l[17], l[18], l[19], l[20], l[21], l[22], l[23], l[24], l[25], l[26], (char *)NULL);
    case 28: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16], l[17], l[18], l[19], l[20], l[21], l[22], l[23], l[24], l[25], l[26], l[27], (char *)NULL);
    case 29: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16], l[17], l[18], l[19], l[20], l[21], l[22], l[23], l[24], l[25], l[26], l[27], l[28], (char *)NULL);
    case 30: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16], l[17], l[18], l[19], l[20], l[21], l[22], l[23], l[24], l[25], l[26], l[27], l[28], l[29], (char *)NULL);
    case 31: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16], l[17], l[18], l[19], l[20], l[21], l[22], l[23], l[24], l[25], l[26], l[27], l[28], l[29], l[30], (char *)NULL);
    case 32: return smfi_setmlreply(ctx, rcode, xcode, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16], l[17], l[18], l[19], l[20], l[21], l[22], l[23], l[24], l[25], l[26], l[27], l[28], l[29], l[30], l[31], (char *)NULL);
    default: return MI_FAILURE;
    }
}
#endif
