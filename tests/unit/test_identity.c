/* test_identity.c - key generation, PEM/DER round trips, node id and
 * fingerprint, and every refusal of save and load. One RSA-2048 key is made
 * per binary (before the forked tests) and shared. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>

#include "crypto/identity.h"
#include "crypto/oaep.h"
#include "crypto/rng.h"
#include "crypto/sign.h"
#include "vectors_util.h"
#include "tests/test_main.h"

static identity *key; /* shared RSA-2048 with private half */
static char tmpdir[] = "/tmp/natter-test-identity-XXXXXX";

static void path_in_tmp(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ssize_t n = read(fd, buf, cap - 1);
    ck_assert_int_ge(n, 0);
    buf[n] = 0;
    close(fd);
    return (size_t)n;
}

/* --- foreign keys for the refusal tests, made with mbedTLS directly ------- */

static void write_pk_pem(mbedtls_pk_context *pk, const char *path, bool priv)
{
    unsigned char pem[8192];
    int ret = priv ? mbedtls_pk_write_key_pem(pk, pem, sizeof pem) : mbedtls_pk_write_pubkey_pem(pk, pem, sizeof pem);
    ck_assert_int_eq(ret, 0);
    write_file(path, pem, strlen((char *)pem));
}

static void make_rsa(mbedtls_pk_context *pk, unsigned bits)
{
    mbedtls_pk_init(pk);
    ck_assert_int_eq(mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)), 0);
    ck_assert_int_eq(mbedtls_rsa_gen_key(mbedtls_pk_rsa(*pk), rng_mbedtls, NULL, bits, 65537), 0);
}

static void make_ec(mbedtls_pk_context *pk)
{
    mbedtls_pk_init(pk);
    ck_assert_int_eq(mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    ck_assert_int_eq(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk), rng_mbedtls, NULL), 0);
}

static size_t pk_der(mbedtls_pk_context *pk, uint8_t *out, size_t cap)
{
    uint8_t tmp[2048];
    int n = mbedtls_pk_write_pubkey_der(pk, tmp, sizeof tmp);
    ck_assert_int_gt(n, 0);
    ck_assert_uint_le((size_t)n, cap);
    memcpy(out, tmp + sizeof tmp - n, (size_t)n);
    return (size_t)n;
}

/* --- tests ------------------------------------------------------------------ */

static const struct {
    unsigned bits;
    bool ok;
} bit_table[] = {{0, false},    {512, false},  {1024, false}, {2047, false}, {2048, true}, {2049, false},
                 {3072, true},  {4096, true},  {8192, false}, {4095, false}};

START_TEST(test_bits_allowed)
{
    ck_assert_int_eq(identity_bits_allowed(bit_table[_i].bits), bit_table[_i].ok);
    if (!bit_table[_i].ok) {
        identity *id = (identity *)1;
        ck_assert_int_eq(identity_generate(&id, bit_table[_i].bits), NT_ERR_INVALID);
        ck_assert_ptr_null(id);
    }
}
END_TEST

START_TEST(test_generate_needs_rng)
{
    identity *id = NULL;
    rng_free(); /* this test runs in its own process */
    ck_assert_int_eq(identity_generate(&id, 2048), NT_ERR_STATE);
    ck_assert_ptr_null(id);
    ck_assert_int_eq(rng_init(), NT_OK);
}
END_TEST

START_TEST(test_generated_key)
{
    uint8_t der[IDENTITY_PUB_DER_MAX], digest[32];
    char hex[IDENTITY_ID_HEX_LEN + 1];
    size_t len = 0;

    ck_assert_uint_eq(identity_bits(key), 2048);
    ck_assert(identity_has_private(key));
    ck_assert_int_eq(identity_public_der(key, der, sizeof der, &len), NT_OK);
    ck_assert_uint_gt(len, 256);
    /* node id = SHA-256(DER SPKI), computed independently here */
    ck_assert_int_eq(mbedtls_sha256_ret(der, len, digest, 0), 0);
    ck_assert_mem_eq(identity_id(key), digest, 32);
    identity_id_hex(key, hex);
    ck_assert_uint_eq(strlen(hex), 64);
    for (size_t i = 0; i < 32; i++) {
        char two[3];
        snprintf(two, sizeof two, "%02x", digest[i]);
        ck_assert_int_eq(hex[2 * i], two[0]);
        ck_assert_int_eq(hex[2 * i + 1], two[1]);
    }
    /* the private key matches the public one */
    ck_assert_int_eq(mbedtls_rsa_check_pub_priv(mbedtls_pk_rsa(*identity_pk(key)), mbedtls_pk_rsa(*identity_pk(key))), 0);
    /* two generations differ */
    identity *other = NULL;
    ck_assert_int_eq(identity_generate(&other, 2048), NT_OK);
    ck_assert(memcmp(identity_id(other), identity_id(key), IDENTITY_ID_LEN) != 0);
    identity_free(other);
}
END_TEST

START_TEST(test_public_der_and_pem_round_trip)
{
    uint8_t der[IDENTITY_PUB_DER_MAX], der2[IDENTITY_PUB_DER_MAX];
    char pem[IDENTITY_PUB_PEM_MAX];
    size_t len = 0, len2 = 0;
    identity *a = NULL, *b = NULL, *c = NULL;

    ck_assert_int_eq(identity_public_der(key, der, sizeof der, &len), NT_OK);
    ck_assert_int_eq(identity_from_der(&a, der, len), NT_OK);
    ck_assert(!identity_has_private(a));
    ck_assert_uint_eq(identity_bits(a), 2048);
    ck_assert_mem_eq(identity_id(a), identity_id(key), IDENTITY_ID_LEN);
    ck_assert_int_eq(identity_public_der(a, der2, sizeof der2, &len2), NT_OK);
    ck_assert_uint_eq(len, len2);
    ck_assert_mem_eq(der, der2, len);

    ck_assert_int_eq(identity_public_pem(key, pem, sizeof pem), NT_OK);
    ck_assert_ptr_nonnull(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
    ck_assert_int_eq(identity_from_pem(&b, pem, strlen(pem)), NT_OK);     /* without the NUL */
    ck_assert_mem_eq(identity_id(b), identity_id(key), IDENTITY_ID_LEN);
    identity_free(b);
    ck_assert_int_eq(identity_from_pem(&b, pem, strlen(pem) + 1), NT_OK); /* with the NUL */
    ck_assert_mem_eq(identity_id(b), identity_id(key), IDENTITY_ID_LEN);

    ck_assert_int_eq(identity_public_copy(&c, key), NT_OK);
    ck_assert(!identity_has_private(c));
    ck_assert_mem_eq(identity_id(c), identity_id(key), IDENTITY_ID_LEN);
    identity_free(a);
    identity_free(b);
    identity_free(c);
    identity_free(NULL);
}
END_TEST

START_TEST(test_output_caps)
{
    uint8_t der[IDENTITY_PUB_DER_MAX];
    char pem[IDENTITY_PUB_PEM_MAX];
    size_t len = 0, full = 0;

    ck_assert_int_eq(identity_public_der(key, der, sizeof der, &full), NT_OK);
    ck_assert_int_eq(identity_public_der(key, der, full - 1, &len), NT_ERR_TOO_BIG);
    ck_assert_int_eq(identity_public_der(key, der, full, &len), NT_OK);
    ck_assert_int_eq(identity_public_pem(key, pem, 100), NT_ERR_TOO_BIG);
    ck_assert_int_eq(identity_public_pem(key, pem, 0), NT_ERR_INVALID);
}
END_TEST

/* Public keys of each allowed size, from the Wycheproof files, import and
 * keep their size; every size's id is SHA-256 of its DER. */
static const struct {
    const char *file;
    unsigned bits;
} wp_keys[] = {
    {"wycheproof/rsa_pss_2048_sha256_mgf1_32_test.json", 2048},
    {"wycheproof/rsa_pss_3072_sha256_mgf1_32_test.json", 3072},
};

START_TEST(test_import_vector_keys)
{
    json_t *j = vec_load_json(wp_keys[_i].file);
    ck_assert_ptr_nonnull(j);
    json_t *g = json_array_get(json_object_get(j, "testGroups"), 0);
    size_t len = 0;
    uint8_t *der = vec_hex(vec_str(g, "publicKeyDer"), &len);
    uint8_t digest[32];
    identity *a = NULL, *b = NULL;
    const char *pem = vec_str(g, "publicKeyPem");

    ck_assert_ptr_nonnull(der);
    ck_assert_int_eq(identity_from_der(&a, der, len), NT_OK);
    ck_assert_uint_eq(identity_bits(a), wp_keys[_i].bits);
    ck_assert_int_eq(mbedtls_sha256_ret(der, len, digest, 0), 0);
    ck_assert_mem_eq(identity_id(a), digest, 32);
    ck_assert_ptr_nonnull(pem);
    ck_assert_int_eq(identity_from_pem(&b, pem, strlen(pem)), NT_OK);
    ck_assert_mem_eq(identity_id(b), digest, 32);
    identity_free(a);
    identity_free(b);
    free(der);
    json_decref(j);
}
END_TEST

START_TEST(test_from_der_rejects)
{
    uint8_t der[IDENTITY_PUB_DER_MAX + 64], bad[IDENTITY_PUB_DER_MAX + 64];
    size_t len = 0;
    identity *id = (identity *)1;
    mbedtls_pk_context ec, small;

    ck_assert_int_eq(identity_public_der(key, der, sizeof der, &len), NT_OK);
    /* truncated anywhere */
    for (size_t cut = 1; cut < len; cut += 37) {
        ck_assert_int_eq(identity_from_der(&id, der, cut), NT_ERR_INVALID);
        ck_assert_ptr_null(id);
    }
    ck_assert_int_eq(identity_from_der(&id, der, len - 1), NT_ERR_INVALID);
    /* trailing garbage: not the canonical encoding */
    memcpy(bad, der, len);
    bad[len] = 0;
    ck_assert_int_eq(identity_from_der(&id, bad, len + 1), NT_ERR_INVALID);
    /* not a SEQUENCE, empty, NULL */
    bad[0] = 0x31;
    ck_assert_int_eq(identity_from_der(&id, bad, len), NT_ERR_INVALID);
    ck_assert_int_eq(identity_from_der(&id, der, 0), NT_ERR_INVALID);
    ck_assert_int_eq(identity_from_der(&id, NULL, 10), NT_ERR_INVALID);
    /* over the cap */
    memset(bad, 0x30, sizeof bad);
    ck_assert_int_eq(identity_from_der(&id, bad, IDENTITY_PUB_DER_MAX + 1), NT_ERR_TOO_BIG);
    /* an EC key and an RSA-1024 key */
    make_ec(&ec);
    len = pk_der(&ec, der, sizeof der);
    ck_assert_int_eq(identity_from_der(&id, der, len), NT_ERR_INVALID);
    make_rsa(&small, 1024);
    len = pk_der(&small, der, sizeof der);
    ck_assert_int_eq(identity_from_der(&id, der, len), NT_ERR_INVALID);
    ck_assert_ptr_null(id);
    mbedtls_pk_free(&ec);
    mbedtls_pk_free(&small);
}
END_TEST

/* A public key with modulus N (of key) and exponent e. */
static void rsa_with_exponent(mbedtls_pk_context *pk, const mbedtls_mpi *e)
{
    mbedtls_mpi n;
    mbedtls_mpi_init(&n);
    ck_assert_int_eq(mbedtls_rsa_export(mbedtls_pk_rsa(*identity_pk(key)), &n, NULL, NULL, NULL, NULL), 0);
    mbedtls_pk_init(pk);
    ck_assert_int_eq(mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)), 0);
    ck_assert_int_eq(mbedtls_rsa_import(mbedtls_pk_rsa(*pk), &n, NULL, NULL, NULL, e), 0);
    ck_assert_int_eq(mbedtls_rsa_complete(mbedtls_pk_rsa(*pk)), 0);
    ck_assert_int_eq(mbedtls_rsa_check_pubkey(mbedtls_pk_rsa(*pk)), 0); /* mbedTLS itself takes it */
    mbedtls_mpi_free(&n);
}

/* Only e = 65537: a huge e makes every verification over 100 times dearer
 * (a CPU attack through any signed input), and e = 3 is never made here. */
START_TEST(test_exponent_refused)
{
    uint8_t der[IDENTITY_PUB_DER_MAX];
    char pem[IDENTITY_PUB_PEM_MAX];
    unsigned char priv[4096];
    size_t len;
    identity *id = (identity *)1;
    mbedtls_pk_context pk;
    mbedtls_mpi e;

    /* e of 2045 bits (odd, below N) */
    mbedtls_mpi_init(&e);
    ck_assert_int_eq(mbedtls_mpi_lset(&e, 1), 0);
    ck_assert_int_eq(mbedtls_mpi_shift_l(&e, 2044), 0);
    ck_assert_int_eq(mbedtls_mpi_add_int(&e, &e, 1), 0);
    rsa_with_exponent(&pk, &e);
    len = pk_der(&pk, der, sizeof der);
    ck_assert_int_eq(identity_from_der(&id, der, len), NT_ERR_INVALID);
    ck_assert_ptr_null(id);
    ck_assert_int_eq(mbedtls_pk_write_pubkey_pem(&pk, (unsigned char *)pem, sizeof pem), 0);
    ck_assert_int_eq(identity_from_pem(&id, pem, strlen(pem)), NT_ERR_INVALID);
    mbedtls_pk_free(&pk);
    /* the same modulus with e = 65537 is fine: only e differs */
    ck_assert_int_eq(mbedtls_mpi_lset(&e, 65537), 0);
    rsa_with_exponent(&pk, &e);
    len = pk_der(&pk, der, sizeof der);
    ck_assert_int_eq(identity_from_der(&id, der, len), NT_OK);
    identity_free(id);
    mbedtls_pk_free(&pk);
    mbedtls_mpi_free(&e);
    /* e = 3, a real key pair: refused as public and as private key */
    mbedtls_pk_init(&pk);
    ck_assert_int_eq(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)), 0);
    ck_assert_int_eq(mbedtls_rsa_gen_key(mbedtls_pk_rsa(pk), rng_mbedtls, NULL, 2048, 3), 0);
    len = pk_der(&pk, der, sizeof der);
    ck_assert_int_eq(identity_from_der(&id, der, len), NT_ERR_INVALID);
    ck_assert_int_eq(mbedtls_pk_write_key_pem(&pk, priv, sizeof priv), 0);
    ck_assert_int_eq(identity_from_private_pem(&id, (const char *)priv, strlen((char *)priv)), NT_ERR_INVALID);
    ck_assert_ptr_null(id);
    mbedtls_platform_zeroize(priv, sizeof priv);
    mbedtls_pk_free(&pk);
}
END_TEST

START_TEST(test_from_pem_rejects)
{
    char pem[IDENTITY_PUB_PEM_MAX];
    identity *id = (identity *)1;

    ck_assert_int_eq(identity_public_pem(key, pem, sizeof pem), NT_OK);
    char *body = strchr(pem, '\n') + 5;
    *body = (*body == 'A') ? 'B' : 'A'; /* corrupt the base64 body */
    ck_assert_int_eq(identity_from_pem(&id, pem, strlen(pem)), NT_ERR_INVALID);
    ck_assert_int_eq(identity_from_pem(&id, "", 0), NT_ERR_INVALID);
    ck_assert_int_eq(identity_from_pem(&id, "hello", 5), NT_ERR_INVALID);
    ck_assert_int_eq(identity_from_pem(&id, "-----BEGIN PUBLIC KEY-----\n\0x", 30), NT_ERR_INVALID);
    ck_assert_ptr_null(id);
}
END_TEST

START_TEST(test_save_load_round_trip)
{
    char path[256];
    struct stat st;
    identity *loaded = NULL;
    uint8_t d1[IDENTITY_PUB_DER_MAX], d2[IDENTITY_PUB_DER_MAX];
    size_t l1 = 0, l2 = 0;

    path_in_tmp(path, sizeof path, "roundtrip.pem");
    umask(0); /* the file must still be 0600 */
    ck_assert_int_eq(identity_save(key, path), NT_OK);
    umask(022);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(identity_load(&loaded, path), NT_OK);
    ck_assert(identity_has_private(loaded));
    ck_assert_uint_eq(identity_bits(loaded), 2048);
    ck_assert_mem_eq(identity_id(loaded), identity_id(key), IDENTITY_ID_LEN);
    ck_assert_int_eq(identity_public_der(key, d1, sizeof d1, &l1), NT_OK);
    ck_assert_int_eq(identity_public_der(loaded, d2, sizeof d2, &l2), NT_OK);
    ck_assert_uint_eq(l1, l2);
    ck_assert_mem_eq(d1, d2, l1);
    /* the private halves are the same key */
    ck_assert_int_eq(mbedtls_pk_check_pair(identity_pk(key), identity_pk(loaded)), 0);

    /* in-memory PEM gives the same */
    char pem[16384];
    size_t n = read_file(path, pem, sizeof pem);
    identity *mem = NULL;
    ck_assert_int_eq(identity_from_private_pem(&mem, pem, n), NT_OK);
    ck_assert_mem_eq(identity_id(mem), identity_id(key), IDENTITY_ID_LEN);
    identity_free(mem);
    identity_free(loaded);
    unlink(path);
}
END_TEST

START_TEST(test_save_refuses)
{
    char path[256], target[256], content[64];
    identity *pub = NULL;

    /* an existing file is left untouched */
    path_in_tmp(path, sizeof path, "exists.pem");
    write_file(path, "keep me", 7);
    ck_assert_int_eq(identity_save(key, path), NT_ERR_EXISTS);
    ck_assert_uint_eq(read_file(path, content, sizeof content), 7);
    ck_assert_str_eq(content, "keep me");
    unlink(path);

    /* a symlink to an existing file: neither link nor target written */
    path_in_tmp(target, sizeof target, "target.pem");
    path_in_tmp(path, sizeof path, "link.pem");
    write_file(target, "target", 6);
    ck_assert_int_eq(symlink(target, path), 0);
    ck_assert_int_eq(identity_save(key, path), NT_ERR_EXISTS);
    ck_assert_uint_eq(read_file(target, content, sizeof content), 6);
    unlink(target);
    /* a dangling symlink: the target is not created */
    ck_assert_int_eq(identity_save(key, path), NT_ERR_EXISTS);
    ck_assert_int_eq(access(target, F_OK), -1);
    unlink(path);

    /* a missing directory, a public-only identity */
    path_in_tmp(path, sizeof path, "nodir/key.pem");
    ck_assert_int_eq(identity_save(key, path), NT_ERR_NOT_FOUND);
    path_in_tmp(path, sizeof path, "public.pem");
    ck_assert_int_eq(identity_public_copy(&pub, key), NT_OK);
    ck_assert_int_eq(identity_save(pub, path), NT_ERR_INVALID);
    ck_assert_int_eq(access(path, F_OK), -1);
    identity_free(pub);
}
END_TEST

enum load_case { LOAD_MISSING, LOAD_EMPTY, LOAD_GARBAGE, LOAD_TRUNCATED, LOAD_FLIPPED, LOAD_EC, LOAD_RSA1024,
                 LOAD_PUBLIC_ONLY, LOAD_SYMLINK, LOAD_DIRECTORY, LOAD_HUGE, LOAD_NUL, LOAD_FIFO, LOAD__COUNT };

static const nt_err load_expect[LOAD__COUNT] = {
    [LOAD_MISSING] = NT_ERR_NOT_FOUND, [LOAD_EMPTY] = NT_ERR_INVALID,     [LOAD_GARBAGE] = NT_ERR_INVALID,
    [LOAD_TRUNCATED] = NT_ERR_INVALID, [LOAD_FLIPPED] = NT_ERR_INVALID,   [LOAD_EC] = NT_ERR_INVALID,
    [LOAD_RSA1024] = NT_ERR_INVALID,   [LOAD_PUBLIC_ONLY] = NT_ERR_INVALID, [LOAD_SYMLINK] = NT_ERR_INVALID,
    [LOAD_DIRECTORY] = NT_ERR_INVALID, [LOAD_HUGE] = NT_ERR_TOO_BIG,      [LOAD_NUL] = NT_ERR_INVALID,
    [LOAD_FIFO] = NT_ERR_INVALID,
};

START_TEST(test_load_refuses)
{
    char path[256], good[256], pem[16384];
    identity *id = (identity *)1;
    mbedtls_pk_context pk;
    size_t n;

    path_in_tmp(good, sizeof good, "good.pem");
    ck_assert_int_eq(identity_save(key, good), NT_OK);
    n = read_file(good, pem, sizeof pem);
    snprintf(path, sizeof path, "%s/case-%d", tmpdir, _i);

    switch ((enum load_case)_i) {
    case LOAD_MISSING:
        break;
    case LOAD_EMPTY:
        write_file(path, "", 0);
        break;
    case LOAD_GARBAGE:
        write_file(path, "this is not a key\n", 18);
        break;
    case LOAD_TRUNCATED:
        write_file(path, pem, n / 2);
        break;
    case LOAD_FLIPPED: /* one base64 character in the middle changed */
        pem[n / 2] = pem[n / 2] == 'A' ? 'B' : 'A';
        write_file(path, pem, n);
        break;
    case LOAD_EC:
        make_ec(&pk);
        write_pk_pem(&pk, path, true);
        mbedtls_pk_free(&pk);
        break;
    case LOAD_RSA1024:
        make_rsa(&pk, 1024);
        write_pk_pem(&pk, path, true);
        mbedtls_pk_free(&pk);
        break;
    case LOAD_PUBLIC_ONLY:
        ck_assert_int_eq(identity_public_pem(key, pem, sizeof pem), NT_OK);
        write_file(path, pem, strlen(pem));
        break;
    case LOAD_SYMLINK:
        ck_assert_int_eq(symlink(good, path), 0);
        break;
    case LOAD_DIRECTORY:
        ck_assert_int_eq(mkdir(path, 0700), 0);
        break;
    case LOAD_HUGE: {
        char *big = malloc(20000);
        ck_assert_ptr_nonnull(big);
        memset(big, 'A', 20000);
        write_file(path, big, 20000);
        free(big);
        break;
    }
    case LOAD_NUL:
        pem[10] = '\0';
        write_file(path, pem, n);
        break;
    case LOAD_FIFO: /* must be refused, not block */
        ck_assert_int_eq(mkfifo(path, 0600), 0);
        break;
    case LOAD__COUNT:
        ck_abort();
    }
    ck_assert_int_eq(identity_load(&id, path), load_expect[_i]);
    ck_assert_ptr_null(id);
    /* and the good file next to it still loads */
    ck_assert_int_eq(identity_load(&id, good), NT_OK);
    identity_free(id);
    rmdir(path);
    unlink(path);
    unlink(good);
}
END_TEST

static const struct {
    uint8_t fill; /* 0, 0xff, or 2 for the bytes 0..31 */
    const char *want;
} fp_table[] = {
    {0x00, "AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA"},
    {0xff, "7777-7777-7777-7777-7777-7777-7777-7777-7777-7777-7777-7777-777Q"},
    {0x02, "AAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB-CEQT-CQKR-MFYY-DENB-WHA5-DYPQ"},
};

START_TEST(test_fingerprint)
{
    uint8_t id[IDENTITY_ID_LEN];
    char out[IDENTITY_FINGERPRINT_MAX];
    for (size_t i = 0; i < sizeof id; i++)
        id[i] = fp_table[_i].fill == 0x02 ? (uint8_t)i : fp_table[_i].fill;
    memset(out, 'x', sizeof out);
    identity_fingerprint(id, out);
    ck_assert_str_eq(out, fp_table[_i].want);
}
END_TEST

START_TEST(test_fingerprint_of_key)
{
    char out[IDENTITY_FINGERPRINT_MAX];
    identity_fingerprint(identity_id(key), out);
    ck_assert_uint_eq(strlen(out), 64);
    for (size_t i = 0; i < 64; i++) {
        if (i % 5 == 4)
            ck_assert_int_eq(out[i], '-');
        else
            ck_assert((out[i] >= 'A' && out[i] <= 'Z') || (out[i] >= '2' && out[i] <= '7'));
    }
}
END_TEST

/* The larger sizes end to end, once each: the header's size caps hold,
 * and sign, OAEP and save/load work at every allowed size. */
static const unsigned big_sizes[] = {3072, 4096};

START_TEST(test_every_size_end_to_end)
{
    unsigned bits = big_sizes[_i];
    identity *id = NULL, *pub = NULL, *loaded = NULL;
    uint8_t der[IDENTITY_PUB_DER_MAX], sig[SIGN_MAX_LEN], ct[512], pt[512], out[512];
    char pem[IDENTITY_PUB_PEM_MAX], path[256];
    size_t len = 0, siglen = 0, ctlen = 0, outlen = 0, max = oaep_max_plain(bits);

    ck_assert_int_eq(identity_generate(&id, bits), NT_OK);
    ck_assert_uint_eq(identity_bits(id), bits);
    ck_assert_int_eq(identity_public_der(id, der, sizeof der, &len), NT_OK);
    ck_assert_int_eq(identity_public_pem(id, pem, sizeof pem), NT_OK);
    ck_assert_uint_lt(strlen(pem), IDENTITY_PUB_PEM_MAX);
    ck_assert_int_eq(identity_from_der(&pub, der, len), NT_OK);
    ck_assert_mem_eq(identity_id(pub), identity_id(id), IDENTITY_ID_LEN);

    ck_assert_int_eq(sign_create(id, SIGN_HANDSHAKE, der, len, sig, sizeof sig, &siglen), NT_OK);
    ck_assert_uint_eq(siglen, bits / 8);
    ck_assert_int_eq(sign_verify(pub, SIGN_HANDSHAKE, der, len, sig, siglen), NT_OK);
    ck_assert_int_eq(sign_verify(pub, SIGN_HANDSHAKE_REPLY, der, len, sig, siglen), NT_ERR_AUTH);

    ck_assert_int_eq(rng_bytes(pt, max), NT_OK);
    ck_assert_int_eq(oaep_encrypt(pub, NULL, 0, pt, max, ct, sizeof ct, &ctlen), NT_OK);
    ck_assert_uint_eq(ctlen, bits / 8);
    ck_assert_int_eq(oaep_decrypt(id, NULL, 0, ct, ctlen, out, sizeof out, &outlen), NT_OK);
    ck_assert_uint_eq(outlen, max);
    ck_assert_mem_eq(out, pt, max);
    ck_assert_int_eq(oaep_encrypt(pub, NULL, 0, pt, max + 1, ct, sizeof ct, &ctlen), NT_ERR_TOO_BIG);

    snprintf(path, sizeof path, "%s/size-%u.pem", tmpdir, bits);
    ck_assert_int_eq(identity_save(id, path), NT_OK);
    ck_assert_int_eq(identity_load(&loaded, path), NT_OK);
    ck_assert_uint_eq(identity_bits(loaded), bits);
    ck_assert_mem_eq(identity_id(loaded), identity_id(id), IDENTITY_ID_LEN);
    ck_assert_int_eq(sign_create(loaded, SIGN_MESSAGE, pt, 10, sig, sizeof sig, &siglen), NT_OK);
    ck_assert_int_eq(sign_verify(pub, SIGN_MESSAGE, pt, 10, sig, siglen), NT_OK);
    unlink(path);
    identity_free(loaded);
    identity_free(pub);
    identity_free(id);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("identity");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_bits_allowed, 0, (int)(sizeof bit_table / sizeof bit_table[0]));
    tcase_add_test(tc, test_generate_needs_rng);
    tcase_add_test(tc, test_generated_key);
    tcase_add_test(tc, test_public_der_and_pem_round_trip);
    tcase_add_test(tc, test_output_caps);
    tcase_add_loop_test(tc, test_import_vector_keys, 0, (int)(sizeof wp_keys / sizeof wp_keys[0]));
    tcase_add_test(tc, test_from_der_rejects);
    tcase_add_test(tc, test_from_pem_rejects);
    tcase_add_test(tc, test_exponent_refused);
    tcase_add_test(tc, test_save_load_round_trip);
    tcase_add_test(tc, test_save_refuses);
    tcase_add_loop_test(tc, test_load_refuses, 0, LOAD__COUNT);
    tcase_add_loop_test(tc, test_fingerprint, 0, (int)(sizeof fp_table / sizeof fp_table[0]));
    tcase_add_test(tc, test_fingerprint_of_key);
    tcase_add_loop_test(tc, test_every_size_end_to_end, 0, (int)(sizeof big_sizes / sizeof big_sizes[0]));
    suite_add_tcase(s, tc);
    return s;
}

int test_setup(void)
{
    if (rng_init() != NT_OK || identity_generate(&key, 2048) != NT_OK) {
        fprintf(stderr, "setup: cannot make the test key\n");
        return EXIT_FAILURE;
    }
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    return TEST_GO;
}

int test_teardown(int failed)
{
    identity_free(key);
    rng_free();
    rmdir(tmpdir);
    return failed;
}
