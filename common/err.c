#include "err.h"

static const char *const names[NT_ERR__COUNT] = {
    [NT_OK] = "ok",
    [NT_ERR_NOMEM] = "out of memory",
    [NT_ERR_INVALID] = "invalid input",
    [NT_ERR_TOO_BIG] = "too large",
    [NT_ERR_CRYPTO] = "crypto library error",
    [NT_ERR_AUTH] = "authentication failed",
    [NT_ERR_REPLAY] = "replay detected",
    [NT_ERR_EXPIRED] = "expired or outside the time window",
    [NT_ERR_IO] = "I/O error",
    [NT_ERR_PERM] = "bad permissions",
    [NT_ERR_NOT_FOUND] = "not found",
    [NT_ERR_EXISTS] = "already exists",
    [NT_ERR_FORBIDDEN] = "forbidden",
    [NT_ERR_BUSY] = "busy",
    [NT_ERR_DB] = "database error",
    [NT_ERR_NET] = "network error",
    [NT_ERR_TIMEOUT] = "timed out",
    [NT_ERR_VERSION] = "unsupported version",
    [NT_ERR_STATE] = "invalid state",
};

const char *err_str(nt_err rc)
{
    if ((unsigned)rc >= NT_ERR__COUNT || !names[rc])
        return "unknown error";
    return names[rc];
}
