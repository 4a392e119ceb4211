/*
 * null-milter: the floor of contrib/bench/throughput.sh's "untouched" mode.
 *
 * A libmilter filter with FedMail's protocol shape and no work: it
 * negotiates what fedmail-milter negotiates (FederationHandler.requirements
 * through MilterNegotiation, Sources/Milter) and answers as FedMail's
 * untouched path does, accept at end of headers, so the MTA sends no body
 * and no end of message. It keeps no state and logs nothing: what it costs
 * is what any milter of this shape costs (libmilter, one thread per
 * connection, the round trips).
 *
 * Negotiated, when the MTA offers them (as fedmail-milter asks):
 *   actions   SMFIF_ADDHDRS, CHGHDRS, CHGBODY, DELRCPT, QUARANTINE (the MTA
 *             is refused without them), SETSYMLIST
 *   steps     connect, HELO, MAIL, RCPT, headers, end of headers, body;
 *             SMFIP_NODATA, SMFIP_NOUNKNOWN
 *   no reply  SMFIP_NR_CONN, NR_HELO, NR_MAIL, NR_HDR (RCPT is answered)
 *   other     SMFIP_HDR_LEADSPC, SMFIP_SKIP
 *   macros    connect: j {daemon_name} {client_addr}; MAIL: i {auth_type}
 *             {auth_authen}; end of message: i
 *
 * Usage: null-milter SOCKET   (libmilter form, e.g. unix:/run/x/null.sock);
 * runs in the foreground until SIGTERM. Build:
 *   cc -O2 -o null-milter null-milter.c $(pkg-config --cflags --libs milter) -lpthread
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <libmilter/mfapi.h>

#define ACTIONS (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_DELRCPT | SMFIF_QUARANTINE)
/* Steps FedMail does not take: DATA (unknown commands are never asked for). */
#define NO_STEPS (SMFIP_NODATA)
/* Steps FedMail always continues at: the MTA need not wait. */
#define NO_REPLY (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_HDR)

/*
 * The protocol flags granted to this connection, kept in libmilter's
 * private pointer (an integer, never allocated; SMFIP_NOUNKNOWN is set
 * whenever it is offered, so the pointer is not NULL once negotiated).
 */
static unsigned long granted(SMFICTX *ctx) { return (unsigned long)(uintptr_t)smfi_getpriv(ctx); }

/* Continue at a step FedMail asks the MTA not to wait for (NOREPLY when granted). */
static sfsistat pass(SMFICTX *ctx, unsigned long flag)
{
    return (granted(ctx) & flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat nm_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3)
{
    unsigned long flags = 0;
    (void)f2; (void)f3;
    if ((f0 & ACTIONS) != ACTIONS) return SMFIS_REJECT;
    *pf0 = ACTIONS;
    if (f0 & SMFIF_SETSYMLIST) {
        *pf0 |= SMFIF_SETSYMLIST;
        smfi_setsymlist(ctx, SMFIM_CONNECT, "j {daemon_name} {client_addr}");
        smfi_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_type} {auth_authen}");
        smfi_setsymlist(ctx, SMFIM_EOM, "i");
    }
    flags |= f1 & (NO_STEPS | SMFIP_NOUNKNOWN | SMFIP_HDR_LEADSPC | SMFIP_SKIP | NO_REPLY);
    *pf1 = flags;
    *pf2 = 0;
    *pf3 = 0;
    smfi_setpriv(ctx, (void *)(uintptr_t)flags);
    return SMFIS_CONTINUE;
}

static sfsistat nm_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
    (void)host; (void)addr;
    return pass(ctx, SMFIP_NR_CONN);
}

static sfsistat nm_helo(SMFICTX *ctx, char *name) { (void)name; return pass(ctx, SMFIP_NR_HELO); }
static sfsistat nm_envfrom(SMFICTX *ctx, char **argv) { (void)argv; return pass(ctx, SMFIP_NR_MAIL); }
static sfsistat nm_envrcpt(SMFICTX *ctx, char **argv) { (void)ctx; (void)argv; return SMFIS_CONTINUE; }
static sfsistat nm_header(SMFICTX *ctx, char *name, char *value) { (void)name; (void)value; return pass(ctx, SMFIP_NR_HDR); }
/* FedMail's untouched path: accept here, the MTA sends no body and no end of message. */
static sfsistat nm_eoh(SMFICTX *ctx) { (void)ctx; return SMFIS_ACCEPT; }
static sfsistat nm_body(SMFICTX *ctx, unsigned char *b, size_t n) { (void)ctx; (void)b; (void)n; return SMFIS_CONTINUE; }
static sfsistat nm_eom(SMFICTX *ctx) { (void)ctx; return SMFIS_ACCEPT; }
static sfsistat nm_abort(SMFICTX *ctx) { (void)ctx; return SMFIS_CONTINUE; }
static sfsistat nm_close(SMFICTX *ctx) { smfi_setpriv(ctx, NULL); return SMFIS_CONTINUE; }
static sfsistat nm_data(SMFICTX *ctx) { (void)ctx; return SMFIS_CONTINUE; }

int main(int argc, char **argv)
{
    struct smfiDesc desc = {
        "null-milter", SMFI_VERSION, ACTIONS,
        nm_connect, nm_helo, nm_envfrom, nm_envrcpt, nm_header, nm_eoh, nm_body, nm_eom,
        nm_abort, nm_close, NULL, nm_data, nm_negotiate,
    };
    if (argc != 2) {
        fprintf(stderr, "usage: null-milter SOCKET (e.g. unix:/run/x/null.sock)\n");
        return 64;
    }
    umask(007);
    if (smfi_register(desc) != MI_SUCCESS) { fprintf(stderr, "null-milter: smfi_register failed\n"); return 70; }
    if (smfi_setconn(argv[1]) != MI_SUCCESS || smfi_opensocket(1) != MI_SUCCESS) {
        fprintf(stderr, "null-milter: cannot open %s\n", argv[1]);
        return 69;
    }
    fprintf(stderr, "null-milter: listening on %s\n", argv[1]);
    return smfi_main() == MI_SUCCESS ? 0 : 70;
}
