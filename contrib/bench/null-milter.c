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
 * With --replace-body it is the floor of a milter that rewrites every
 * message (contrib/bench/throughput.sh's "copymilter" mode): it takes the
 * body (kept in memory), and at end of message gives the same bytes back
 * with smfi_replacebody in chunks of 65,535 bytes (libmilter's largest),
 * then accepts. What it costs per MB is what moving a body through the
 * milter protocol twice costs, before any work on it.
 *
 * Usage: null-milter SOCKET [--replace-body]   (libmilter form, e.g.
 * unix:/run/x/null.sock); runs in the foreground until SIGTERM. Build:
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
 * Per connection, in libmilter's private pointer: the protocol flags
 * granted, and with --replace-body the body taken so far.
 */
struct connection {
    unsigned long flags;
    unsigned char *body;
    size_t length, capacity;
};

static int replace_body = 0;

static struct connection *connection(SMFICTX *ctx) { return (struct connection *)smfi_getpriv(ctx); }
static unsigned long granted(SMFICTX *ctx) { return connection(ctx) ? connection(ctx)->flags : 0; }

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
    struct connection *state = connection(ctx);
    if (state == NULL && (state = calloc(1, sizeof *state)) == NULL) return SMFIS_TEMPFAIL;
    state->flags = flags;
    smfi_setpriv(ctx, state);
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
static sfsistat nm_eoh(SMFICTX *ctx)
{
    if (!replace_body || connection(ctx) == NULL) return SMFIS_ACCEPT;
    connection(ctx)->length = 0;
    return SMFIS_CONTINUE;
}
static sfsistat nm_body(SMFICTX *ctx, unsigned char *b, size_t n)
{
    struct connection *state = connection(ctx);
    if (state == NULL) return SMFIS_TEMPFAIL;
    if (state->length + n > state->capacity) {
        size_t capacity = state->capacity ? state->capacity : 65536;
        while (capacity < state->length + n) capacity *= 2;
        unsigned char *grown = realloc(state->body, capacity);
        if (grown == NULL) return SMFIS_TEMPFAIL;
        state->body = grown;
        state->capacity = capacity;
    }
    memcpy(state->body + state->length, b, n);
    state->length += n;
    return SMFIS_CONTINUE;
}
/* Only reached with --replace-body: the same bytes back, then accept. */
static sfsistat nm_eom(SMFICTX *ctx)
{
    struct connection *state = connection(ctx);
    if (state == NULL) return SMFIS_TEMPFAIL;
    size_t at = 0;
    do {
        size_t n = state->length - at < 65535 ? state->length - at : 65535;
        if (smfi_replacebody(ctx, state->body + at, (int)n) != MI_SUCCESS) return SMFIS_TEMPFAIL;
        at += n;
    } while (at < state->length);
    state->length = 0;
    return SMFIS_ACCEPT;
}
static sfsistat nm_abort(SMFICTX *ctx) { if (connection(ctx)) connection(ctx)->length = 0; return SMFIS_CONTINUE; }
static sfsistat nm_close(SMFICTX *ctx)
{
    struct connection *state = connection(ctx);
    if (state) { free(state->body); free(state); }
    smfi_setpriv(ctx, NULL);
    return SMFIS_CONTINUE;
}
static sfsistat nm_data(SMFICTX *ctx) { (void)ctx; return SMFIS_CONTINUE; }

int main(int argc, char **argv)
{
    struct smfiDesc desc = {
        "null-milter", SMFI_VERSION, ACTIONS,
        nm_connect, nm_helo, nm_envfrom, nm_envrcpt, nm_header, nm_eoh, nm_body, nm_eom,
        nm_abort, nm_close, NULL, nm_data, nm_negotiate,
    };
    if (argc == 3 && strcmp(argv[2], "--replace-body") == 0) replace_body = 1;
    else if (argc != 2) {
        fprintf(stderr, "usage: null-milter SOCKET [--replace-body] (e.g. unix:/run/x/null.sock)\n");
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
