// Bridge header for libmilter (Debian: libmilter-dev).
#ifndef FEDMAIL_CMILTER_SHIM_H
#define FEDMAIL_CMILTER_SHIM_H
#include <sys/types.h>
#include <sys/socket.h>
#include <libmilter/mfapi.h>
#endif
