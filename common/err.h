/* err.h - the project-wide status codes.
 *
 * Every fallible function returns an nt_err; NT_OK is zero so that
 * `if (rc)` reads as "on error". Library modules return these and do not
 * print; callers log them with err_str(). */
#ifndef NATTER_ERR_H
#define NATTER_ERR_H

#define NT_MUST_USE __attribute__((warn_unused_result))

typedef enum {
    NT_OK = 0,
    NT_ERR_NOMEM,      /* allocation failed */
    NT_ERR_INVALID,    /* malformed input or bad argument */
    NT_ERR_TOO_BIG,    /* input or output over its cap */
    NT_ERR_CRYPTO,     /* a crypto library call failed (not an auth failure) */
    NT_ERR_AUTH,       /* MAC, signature or key binding did not verify */
    NT_ERR_REPLAY,     /* nonce or sequence number seen before */
    NT_ERR_EXPIRED,    /* timestamp or session outside its window */
    NT_ERR_IO,         /* file or socket error (errno is set) */
    NT_ERR_PERM,       /* permissions on a file or directory are wrong */
    NT_ERR_NOT_FOUND,  /* no such object */
    NT_ERR_EXISTS,     /* object already exists / conflict */
    NT_ERR_FORBIDDEN,  /* caller is not allowed to do this */
    NT_ERR_BUSY,       /* resource locked or limit reached */
    NT_ERR_DB,         /* SQLite error */
    NT_ERR_NET,        /* network or HTTP transport error */
    NT_ERR_TIMEOUT,    /* operation timed out */
    NT_ERR_VERSION,    /* unsupported version or format */
    NT_ERR_STATE,      /* operation not valid in the current state */
    NT_ERR__COUNT
} nt_err;

/* A short, static, human-readable description of rc. Never NULL. */
const char *err_str(nt_err rc);

#endif
