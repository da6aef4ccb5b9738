/* ecdh.c - X25519 and P-256 ephemeral key agreement on mbedTLS 2.28.
 *
 * The low-level mbedtls_ecdh_gen_public / mbedtls_ecdh_compute_shared calls
 * are used on our own group/scalar/point triple, so the key layout does not
 * depend on MBEDTLS_ECDH_LEGACY_CONTEXT. The DRBG is always passed: a NULL
 * RNG crashes gen_public and turns off coordinate blinding in the
 * multiplication. */
#include "ecdh.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecp.h>
#include <mbedtls/platform_util.h>

#include "rng.h"

#define X25519_SCALAR_LEN 32
#define P256_SCALAR_LEN 32
#define P256_COORD_LEN 32
#define SEC1_UNCOMPRESSED 0x04

static_assert(ECDH_X25519_PUB_LEN == X25519_SCALAR_LEN, "X25519 public key is one field element");
static_assert(ECDH_P256_PUB_LEN == 1 + 2 * P256_COORD_LEN, "uncompressed SEC1 P-256 point");
static_assert(ECDH_PUB_MAX >= ECDH_X25519_PUB_LEN && ECDH_PUB_MAX >= ECDH_P256_PUB_LEN, "ECDH_PUB_MAX");
static_assert(ECDH_SECRET_LEN == P256_COORD_LEN && ECDH_SECRET_LEN == X25519_SCALAR_LEN, "secret length");

struct ecdh_key {
    ecdh_curve curve;
    mbedtls_ecp_group grp;
    mbedtls_mpi d;      /* private scalar */
    mbedtls_ecp_point Q; /* public point */
};

static mbedtls_ecp_group_id group_id(ecdh_curve c)
{
    switch (c) {
    case ECDH_X25519:
        return MBEDTLS_ECP_DP_CURVE25519;
    case ECDH_P256:
        return MBEDTLS_ECP_DP_SECP256R1;
    }
    return MBEDTLS_ECP_DP_NONE;
}

size_t ecdh_public_len(ecdh_curve c)
{
    switch (c) {
    case ECDH_X25519:
        return ECDH_X25519_PUB_LEN;
    case ECDH_P256:
        return ECDH_P256_PUB_LEN;
    }
    return 0;
}

const char *ecdh_curve_name(ecdh_curve c)
{
    switch (c) {
    case ECDH_X25519:
        return "x25519";
    case ECDH_P256:
        return "p256";
    }
    return NULL;
}

nt_err ecdh_curve_parse(const char *name, ecdh_curve *out)
{
    if (!name || !out)
        return NT_ERR_INVALID;
    if (strcmp(name, "x25519") == 0)
        *out = ECDH_X25519;
    else if (strcmp(name, "p256") == 0)
        *out = ECDH_P256;
    else
        return NT_ERR_INVALID;
    return NT_OK;
}

static nt_err map_mbedtls(int ret)
{
    if (ret == MBEDTLS_ERR_ECP_ALLOC_FAILED || ret == MBEDTLS_ERR_MPI_ALLOC_FAILED)
        return NT_ERR_NOMEM;
    return NT_ERR_CRYPTO;
}

static nt_err key_alloc(ecdh_key **out, ecdh_curve c)
{
    mbedtls_ecp_group_id gid = group_id(c);
    if (gid == MBEDTLS_ECP_DP_NONE)
        return NT_ERR_INVALID;
    ecdh_key *k = calloc(1, sizeof(*k));
    if (!k)
        return NT_ERR_NOMEM;
    k->curve = c;
    mbedtls_ecp_group_init(&k->grp);
    mbedtls_mpi_init(&k->d);
    mbedtls_ecp_point_init(&k->Q);
    int ret = mbedtls_ecp_group_load(&k->grp, gid);
    if (ret != 0) {
        ecdh_free(k);
        return map_mbedtls(ret);
    }
    *out = k;
    return NT_OK;
}

nt_err ecdh_generate(ecdh_key **out, ecdh_curve c)
{
    ecdh_key *k = NULL;
    nt_err rc;

    if (!out)
        return NT_ERR_INVALID;
    *out = NULL;
    rc = key_alloc(&k, c);
    if (rc)
        goto out;
    int ret = mbedtls_ecdh_gen_public(&k->grp, &k->d, &k->Q, rng_mbedtls, NULL);
    if (ret != 0) {
        rc = map_mbedtls(ret);
        goto out;
    }
    *out = k;
    k = NULL;
out:
    ecdh_free(k);
    return rc;
}

/* RFC 7748 section 5 decodeScalar25519, on the little-endian bytes. */
static void x25519_clamp(uint8_t s[static X25519_SCALAR_LEN])
{
    s[0] &= 248;
    s[31] &= 127;
    s[31] |= 64;
}

nt_err ecdh_from_private(ecdh_key **out, ecdh_curve c, const uint8_t *priv, size_t len)
{
    ecdh_key *k = NULL;
    uint8_t s[X25519_SCALAR_LEN];
    nt_err rc = NT_OK;
    int ret = 0;

    if (!out || !priv)
        return NT_ERR_INVALID;
    *out = NULL;
    if ((c == ECDH_X25519 && len != X25519_SCALAR_LEN) || (c == ECDH_P256 && len != P256_SCALAR_LEN))
        return NT_ERR_INVALID;
    rc = key_alloc(&k, c);
    if (rc)
        goto out;
    if (c == ECDH_X25519) {
        memcpy(s, priv, sizeof(s));
        x25519_clamp(s);
        ret = mbedtls_mpi_read_binary_le(&k->d, s, sizeof(s));
    } else {
        ret = mbedtls_mpi_read_binary(&k->d, priv, len);
    }
    if (ret != 0) {
        rc = map_mbedtls(ret);
        goto out;
    }
    /* Rejects a P-256 scalar of 0 or >= n. */
    if (mbedtls_ecp_check_privkey(&k->grp, &k->d) != 0) {
        rc = NT_ERR_INVALID;
        goto out;
    }
    ret = mbedtls_ecp_mul(&k->grp, &k->Q, &k->d, &k->grp.G, rng_mbedtls, NULL);
    if (ret != 0) {
        rc = map_mbedtls(ret);
        goto out;
    }
    *out = k;
    k = NULL;
out:
    mbedtls_platform_zeroize(s, sizeof(s));
    ecdh_free(k);
    return rc;
}

nt_err ecdh_public(const ecdh_key *k, uint8_t *out, size_t cap, size_t *len)
{
    if (!k || !out || !len)
        return NT_ERR_INVALID;
    size_t need = ecdh_public_len(k->curve);
    if (cap < need)
        return NT_ERR_TOO_BIG;
    size_t olen = 0;
    int ret = mbedtls_ecp_point_write_binary(&k->grp, &k->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, out, cap);
    if (ret != 0)
        return map_mbedtls(ret);
    if (olen != need)
        return NT_ERR_CRYPTO;
    *len = olen;
    return NT_OK;
}

/* Parse and validate the peer's public key in grp. Any problem with the
 * peer's bytes is NT_ERR_AUTH: they are attacker-controlled. */
static nt_err read_peer(ecdh_curve c, const mbedtls_ecp_group *grp, const uint8_t *peer, size_t peer_len,
                        mbedtls_ecp_point *Qp)
{
    if (!peer || peer_len != ecdh_public_len(c))
        return NT_ERR_AUTH;
    /* Only uncompressed points; mbedTLS 2.28 would refuse compressed ones
     * anyway, and the infinity encoding (0x00) has the wrong length. */
    if (c == ECDH_P256 && peer[0] != SEC1_UNCOMPRESSED)
        return NT_ERR_AUTH;
    /* For X25519 this clears the top bit (RFC 7748 section 5) and accepts
     * non-canonical u >= p, as the RFC says; check_pubkey then refuses the
     * known low-order u values. For P-256 it checks the point is on the
     * curve and not at infinity. */
    int ret = mbedtls_ecp_point_read_binary(grp, Qp, peer, peer_len);
    if (ret == MBEDTLS_ERR_ECP_ALLOC_FAILED || ret == MBEDTLS_ERR_MPI_ALLOC_FAILED)
        return NT_ERR_NOMEM;
    if (ret != 0 || mbedtls_ecp_check_pubkey(grp, Qp) != 0)
        return NT_ERR_AUTH;
    return NT_OK;
}

static bool all_zero(const uint8_t *b, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= b[i];
    return acc == 0;
}

nt_err ecdh_shared(const ecdh_key *k, const uint8_t *peer, size_t peer_len, uint8_t out[static ECDH_SECRET_LEN])
{
    mbedtls_ecp_group grp;
    mbedtls_ecp_point Qp;
    mbedtls_mpi z;
    nt_err rc = NT_OK;
    int ret;

    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&Qp);
    mbedtls_mpi_init(&z);
    memset(out, 0, ECDH_SECRET_LEN);
    if (!k) {
        rc = NT_ERR_INVALID;
        goto out;
    }
    /* A private group copy: the multiplication may cache tables in the
     * group, and k is const (possibly shared between threads). */
    ret = mbedtls_ecp_group_load(&grp, group_id(k->curve));
    if (ret != 0) {
        rc = map_mbedtls(ret);
        goto out;
    }
    rc = read_peer(k->curve, &grp, peer, peer_len, &Qp);
    if (rc)
        goto out;
    ret = mbedtls_ecdh_compute_shared(&grp, &z, &Qp, &k->d, rng_mbedtls, NULL);
    if (ret == MBEDTLS_ERR_ECP_ALLOC_FAILED || ret == MBEDTLS_ERR_MPI_ALLOC_FAILED) {
        rc = NT_ERR_NOMEM;
        goto out;
    }
    if (ret != 0) {
        /* The result was the point at infinity or the peer point was bad. */
        rc = NT_ERR_AUTH;
        goto out;
    }
    if (k->curve == ECDH_X25519)
        ret = mbedtls_mpi_write_binary_le(&z, out, ECDH_SECRET_LEN); /* RFC 7748 byte order */
    else
        ret = mbedtls_mpi_write_binary(&z, out, ECDH_SECRET_LEN); /* SEC1 x-coordinate */
    if (ret != 0) {
        rc = NT_ERR_CRYPTO;
        goto out;
    }
    /* RFC 7748 section 6.1: a low-order peer key gives all zeros; a
     * contributory exchange must refuse it. (On P-256 x = 0 is an ordinary
     * point; the point at infinity is refused by mbedTLS above.) */
    if (k->curve == ECDH_X25519 && all_zero(out, ECDH_SECRET_LEN)) {
        rc = NT_ERR_AUTH;
        goto out;
    }
out:
    if (rc)
        mbedtls_platform_zeroize(out, ECDH_SECRET_LEN);
    mbedtls_mpi_free(&z); /* mbedtls_mpi_free zeroes the limbs */
    mbedtls_ecp_point_free(&Qp);
    mbedtls_ecp_group_free(&grp);
    return rc;
}

void ecdh_free(ecdh_key *k)
{
    if (!k)
        return;
    mbedtls_mpi_free(&k->d);
    mbedtls_ecp_point_free(&k->Q);
    mbedtls_ecp_group_free(&k->grp);
    mbedtls_platform_zeroize(k, sizeof(*k));
    free(k);
}
