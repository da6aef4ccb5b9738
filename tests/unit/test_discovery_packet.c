/* Discovery packets: fixed vectors, round trips, every rejection reason.
 * Run from the repository root (test keys and vectors are read from
 * tests/vectors/discovery/). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "crypto/encoding.h"
#include "crypto/identity.h"
#include "crypto/rng.h"
#include "crypto/sign.h"
#include "server/discovery/discovery_packet.h"
#include "tests/test_main.h"

#define VEC "tests/vectors/discovery/"
#define T0 1763700000000LL /* 2025-11-21T04:40:00Z in ms, the vectors' time */

static identity *key2048, *key4096, *other2048;

static size_t read_hex(const char *path, uint8_t *out, size_t cap)
{
    static char text[2 * DISCOVERY_PACKET_MAX + 16];
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "open %s", path);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
        n--;
    size_t len = 0;
    ck_assert_int_eq(encoding_hex_decode(text, n, out, cap, &len), NT_OK);
    return len;
}

static discovery_announce_fields fields(const char *name)
{
    discovery_announce_fields f = {.timestamp_ms = T0, .seq = 7, .peer_port = 7711, .name = name};
    for (int i = 0; i < DISCOVERY_INSTANCE_LEN; i++)
        f.instance_id[i] = (uint8_t)(0xA0 + i);
    return f;
}

/* A fresh, valid announcement from key2048. */
static size_t make(uint8_t *buf, const identity *k, const char *name)
{
    discovery_announce_fields f = fields(name);
    size_t len = 0;
    ck_assert_int_eq(discovery_packet_encode_announce(k, &f, buf, DISCOVERY_PACKET_MAX, &len), NT_OK);
    return len;
}

static discovery_drop full_check(const uint8_t *buf, size_t len, int64_t now)
{
    discovery_packet p;
    identity *k = NULL;
    discovery_drop r = discovery_packet_decode(buf, len, &p);
    if (r == DISC_OK)
        r = discovery_packet_check_time(&p, now, DISCOVERY_TIME_WINDOW_MS);
    if (r == DISC_OK && p.type != DISCOVERY_QUERY)
        r = discovery_packet_check_key(&p, &k);
    if (r == DISC_OK && p.type != DISCOVERY_QUERY)
        r = discovery_packet_verify(&p, k);
    identity_free(k);
    return r;
}

/* --- fixed vectors ---------------------------------------------------- */

START_TEST(vector_query)
{
    uint8_t id[IDENTITY_ID_LEN], inst[DISCOVERY_INSTANCE_LEN], buf[DISCOVERY_QUERY_LEN], want[DISCOVERY_QUERY_LEN];
    for (int i = 0; i < IDENTITY_ID_LEN; i++)
        id[i] = (uint8_t)i;
    memset(inst, 0x5A, sizeof inst);
    size_t len = 0;
    ck_assert_int_eq(discovery_packet_encode_query(id, inst, T0, buf, sizeof buf, &len), NT_OK);
    ck_assert_uint_eq(len, 62);
    size_t wl = read_hex(VEC "query.hex", want, sizeof want);
    ck_assert_uint_eq(wl, 62);
    ck_assert_mem_eq(buf, want, 62);
    discovery_packet p;
    ck_assert_int_eq(discovery_packet_decode(want, wl, &p), DISC_OK);
    ck_assert_int_eq(p.type, DISCOVERY_QUERY);
    ck_assert_mem_eq(p.node_id, id, sizeof id);
    ck_assert_mem_eq(p.instance_id, inst, sizeof inst);
    ck_assert_int_eq(p.timestamp_ms, T0);
}
END_TEST

/* announce-2048.hex was made once by discovery_packet_encode_announce with
 * test-rsa2048.pem and fields("test node \xc3\xa9"); PSS is randomised, so
 * the signed part is compared byte for byte and the signature verified. */
START_TEST(vector_announce)
{
    uint8_t vec[DISCOVERY_PACKET_MAX], head[DISCOVERY_PACKET_MAX], der[IDENTITY_PUB_DER_MAX];
    size_t len = read_hex(VEC "announce-2048.hex", vec, sizeof vec), der_len = 0, head_len = 0;
    discovery_packet p;
    ck_assert_int_eq(discovery_packet_decode(vec, len, &p), DISC_OK);
    ck_assert_int_eq(p.type, DISCOVERY_ANNOUNCE);
    ck_assert_mem_eq(p.node_id, identity_id(key2048), IDENTITY_ID_LEN);
    ck_assert_int_eq(p.timestamp_ms, T0);
    ck_assert_uint_eq(p.seq, 7);
    ck_assert_uint_eq(p.peer_port, 7711);
    ck_assert_str_eq(p.name, "test node \xc3\xa9");
    ck_assert_uint_eq(p.key_len, 294);
    ck_assert_uint_eq(p.sig_len, 256);
    ck_assert_uint_eq(len, 62 + 4 + 2 + 1 + 12 + 2 + 294 + 2 + 256);
    ck_assert_int_eq(full_check(vec, len, T0), DISC_OK);

    /* The encoder produces the same signed bytes. */
    discovery_announce_fields f = fields("test node \xc3\xa9");
    ck_assert_int_eq(identity_public_der(key2048, der, sizeof der, &der_len), NT_OK);
    ck_assert_int_eq(discovery_packet_encode_unsigned(identity_id(key2048), &f, der, der_len, head, sizeof head,
                                                      &head_len),
                     NT_OK);
    ck_assert_uint_eq(head_len, p.signed_len);
    ck_assert_mem_eq(head, vec, head_len);
    /* The signature is over the domain "announce": it is not a valid
     * signature of the same bytes for any other domain. */
    ck_assert_int_eq(sign_verify(key2048, SIGN_ANNOUNCE, vec, p.signed_len, p.sig, p.sig_len), NT_OK);
    ck_assert_int_ne(sign_verify(key2048, SIGN_MESSAGE, vec, p.signed_len, p.sig, p.sig_len), NT_OK);
    ck_assert_int_ne(sign_verify(key2048, SIGN_HANDSHAKE, vec, p.signed_len, p.sig, p.sig_len), NT_OK);
}
END_TEST

/* --- round trips ------------------------------------------------------ */

START_TEST(roundtrip_2048)
{
    uint8_t buf[DISCOVERY_PACKET_MAX];
    size_t len = make(buf, key2048, "alice");
    ck_assert_int_eq(full_check(buf, len, T0), DISC_OK);
    ck_assert_int_eq(full_check(buf, len, T0 + DISCOVERY_TIME_WINDOW_MS), DISC_OK);
    ck_assert_int_eq(full_check(buf, len, T0 - DISCOVERY_TIME_WINDOW_MS), DISC_OK);
}
END_TEST

/* RSA-4096: the key travels when the packet fits, not otherwise. */
START_TEST(rsa4096_key_only_when_it_fits)
{
    uint8_t buf[DISCOVERY_PACKET_MAX];
    discovery_packet p;
    char name65[66], name66[67];
    memset(name65, 'n', 65), name65[65] = '\0';
    memset(name66, 'n', 66), name66[66] = '\0';

    size_t len = make(buf, key4096, name65);
    ck_assert_uint_eq(len, DISCOVERY_PACKET_MAX - 0); /* 1135 + 65: exactly the cap */
    ck_assert_int_eq(discovery_packet_decode(buf, len, &p), DISC_OK);
    ck_assert_uint_eq(p.key_len, 550);
    ck_assert_int_eq(full_check(buf, len, T0), DISC_OK);

    len = make(buf, key4096, name66);
    ck_assert_int_eq(discovery_packet_decode(buf, len, &p), DISC_OK);
    ck_assert_uint_eq(p.key_len, 0);
    ck_assert_ptr_null(p.key);
    ck_assert_uint_le(len, DISCOVERY_PACKET_MAX);
    ck_assert_int_eq(discovery_packet_check_key(&p, NULL), DISC_KEY_UNAVAILABLE);
    /* with the key from elsewhere (cache or GET /v1/node) it verifies */
    ck_assert_int_eq(discovery_packet_verify(&p, key4096), DISC_OK);
    ck_assert_int_eq(discovery_packet_verify(&p, key2048), DISC_ID_MISMATCH);
}
END_TEST

START_TEST(max_name_2048_and_3072_sizes)
{
    char name[DISCOVERY_NAME_MAX + 1];
    memset(name, 'x', DISCOVERY_NAME_MAX), name[DISCOVERY_NAME_MAX] = '\0';
    uint8_t buf[DISCOVERY_PACKET_MAX];
    size_t len = make(buf, key2048, name);
    ck_assert_uint_eq(len, 723);
    ck_assert_int_eq(full_check(buf, len, T0), DISC_OK);
}
END_TEST

/* --- rejections ------------------------------------------------------- */

START_TEST(reject_too_big)
{
    static uint8_t buf[DISCOVERY_PACKET_MAX + 1];
    size_t len = make(buf, key2048, "alice");
    discovery_packet p;
    ck_assert_int_eq(discovery_packet_decode(buf, DISCOVERY_PACKET_MAX + 1, &p), DISC_TOO_BIG);
    ck_assert_int_eq(discovery_packet_decode(buf, len, &p), DISC_OK);
}
END_TEST

START_TEST(reject_every_truncation)
{
    uint8_t buf[DISCOVERY_PACKET_MAX];
    size_t len = make(buf, key2048, "alice");
    discovery_packet p;
    for (size_t n = 0; n < len; n++)
        ck_assert_msg(discovery_packet_decode(buf, n, &p) == DISC_TRUNCATED, "prefix %zu", n);
    uint8_t q[DISCOVERY_QUERY_LEN];
    size_t ql = 0;
    ck_assert_int_eq(discovery_packet_encode_query(identity_id(key2048), buf + 38, T0, q, sizeof q, &ql), NT_OK);
    for (size_t n = 0; n < ql; n++)
        ck_assert_int_eq(discovery_packet_decode(q, n, &p), DISC_TRUNCATED);
}
END_TEST

/* Offsets in a packet made by make(..., "alice"): name at 69, key_len at
 * 74, key at 76, sig_len at 76 + 294 = 370, sig at 372. */
enum { O_NAME_LEN = 68, O_NAME = 69, O_KEY_LEN = 74, O_SIG_LEN = 370, O_SIG = 372 };

static const struct {
    const char *what;
    size_t off;
    int value; /* byte written at off; -1: xor 0x01 */
    int value2; /* byte written at off + 1 unless -2 */
    discovery_drop want;
} mutations[] = {
    {"magic", 0, -1, -2, DISC_BAD_MAGIC},
    {"magic end", 3, 'T', -2, DISC_BAD_MAGIC},
    {"version 0", 4, 0, -2, DISC_BAD_VERSION},
    {"version 2", 4, 2, -2, DISC_BAD_VERSION},
    {"type 0", 5, 0, -2, DISC_BAD_TYPE},
    {"type 4", 5, 4, -2, DISC_BAD_TYPE},
    {"type 1 read as 3 (name bytes as flags, addr_len)", 5, 3, -2, DISC_BAD_ADDR},
    {"port 0", 66, 0, 0, DISC_BAD_PORT},
    {"name empty", O_NAME_LEN, 0, -2, DISC_BAD_NAME},
    {"name 101", O_NAME_LEN, 101, -2, DISC_BAD_NAME},
    {"name control", O_NAME + 1, 0x07, -2, DISC_BAD_NAME},
    {"name DEL", O_NAME + 1, 0x7F, -2, DISC_BAD_NAME},
    {"name not utf8", O_NAME + 2, 0xFF, -2, DISC_BAD_NAME},
    {"name NUL", O_NAME, 0x00, -2, DISC_BAD_NAME},
    {"name leading space", O_NAME, ' ', -2, DISC_BAD_NAME},
    {"name trailing space", O_NAME + 4, ' ', -2, DISC_BAD_NAME},
    {"key_len 601", O_KEY_LEN, 0x02, 0x59, DISC_BAD_KEY_LEN},
    {"key_len 65535", O_KEY_LEN, 0xFF, 0xFF, DISC_BAD_KEY_LEN},
    {"sig_len 255", O_SIG_LEN, 0x00, 0xFF, DISC_BAD_SIG_LEN},
    {"sig_len 0", O_SIG_LEN, 0x00, 0x00, DISC_BAD_SIG_LEN},
    {"sig_len 384 (not the key's)", O_SIG_LEN, 0x01, 0x80, DISC_TRUNCATED},
    {"node id", 6, -1, -2, DISC_ID_MISMATCH},
    {"instance id", 40, -1, -2, DISC_BAD_SIGNATURE},
    {"timestamp low bit", 61, -1, -2, DISC_BAD_SIGNATURE},
    {"seq", 65, -1, -2, DISC_BAD_SIGNATURE},
    {"port", 67, -1, -2, DISC_BAD_SIGNATURE},
    {"name letter", O_NAME, 'A', -2, DISC_BAD_SIGNATURE},
    {"key byte", 200, -1, -2, DISC_ID_MISMATCH},
    {"signature first", O_SIG, -1, -2, DISC_BAD_SIGNATURE},
    {"signature last", O_SIG + 255, -1, -2, DISC_BAD_SIGNATURE},
};

START_TEST(reject_mutation)
{
    uint8_t buf[DISCOVERY_PACKET_MAX];
    size_t len = make(buf, key2048, "alice");
    ck_assert_uint_eq(len, O_SIG + 256);
    size_t off = mutations[_i].off;
    buf[off] = mutations[_i].value < 0 ? (uint8_t)(buf[off] ^ 1) : (uint8_t)mutations[_i].value;
    if (mutations[_i].value2 != -2)
        buf[off + 1] = (uint8_t)mutations[_i].value2;
    discovery_drop got = full_check(buf, len, T0);
    ck_assert_msg(got == mutations[_i].want, "%s: got %s, want %s", mutations[_i].what, discovery_drop_str(got),
                  discovery_drop_str(mutations[_i].want));
}
END_TEST

START_TEST(reject_trailing)
{
    uint8_t buf[DISCOVERY_PACKET_MAX + 1];
    size_t len = make(buf, key2048, "alice");
    buf[len] = 0;
    ck_assert_int_eq(full_check(buf, len + 1, T0), DISC_TRAILING);
    uint8_t q[DISCOVERY_QUERY_LEN + 1] = {0};
    size_t ql = 0;
    ck_assert_int_eq(discovery_packet_encode_query(identity_id(key2048), buf + 38, T0, q, sizeof q, &ql), NT_OK);
    ck_assert_int_eq(full_check(q, ql, T0), DISC_OK);
    ck_assert_int_eq(full_check(q, ql + 1, T0), DISC_TRAILING);
}
END_TEST

START_TEST(reject_time_skew)
{
    uint8_t buf[DISCOVERY_PACKET_MAX];
    size_t len = make(buf, key2048, "alice");
    ck_assert_int_eq(full_check(buf, len, T0 + DISCOVERY_TIME_WINDOW_MS + 1), DISC_TIME_SKEW);
    ck_assert_int_eq(full_check(buf, len, T0 - DISCOVERY_TIME_WINDOW_MS - 1), DISC_TIME_SKEW);
    /* hostile extremes do not overflow */
    memset(buf + 54, 0x80, 1), memset(buf + 55, 0, 7); /* INT64_MIN */
    discovery_packet p;
    ck_assert_int_eq(discovery_packet_decode(buf, len, &p), DISC_OK);
    ck_assert_int_eq(discovery_packet_check_time(&p, T0, DISCOVERY_TIME_WINDOW_MS), DISC_TIME_SKEW);
    memset(buf + 54, 0x7F, 1), memset(buf + 55, 0xFF, 7); /* INT64_MAX */
    ck_assert_int_eq(discovery_packet_decode(buf, len, &p), DISC_OK);
    ck_assert_int_eq(discovery_packet_check_time(&p, T0, DISCOVERY_TIME_WINDOW_MS), DISC_TIME_SKEW);
}
END_TEST

START_TEST(binding_only_check)
{
    uint8_t buf[DISCOVERY_PACKET_MAX];
    discovery_packet p;
    size_t len = make(buf, key2048, "alice");
    ck_assert_int_eq(discovery_packet_decode(buf, len, &p), DISC_OK);
    ck_assert_int_eq(discovery_packet_check_binding(&p), DISC_OK);
    buf[6] ^= 1; /* node id */
    ck_assert_int_eq(discovery_packet_decode(buf, len, &p), DISC_OK);
    ck_assert_int_eq(discovery_packet_check_binding(&p), DISC_ID_MISMATCH);
    char name66[67];
    memset(name66, 'n', 66), name66[66] = '\0';
    len = make(buf, key4096, name66); /* no key in the packet */
    ck_assert_int_eq(discovery_packet_decode(buf, len, &p), DISC_OK);
    ck_assert_int_eq(discovery_packet_check_binding(&p), DISC_KEY_UNAVAILABLE);
}
END_TEST

/* A key whose hash is the id but that is no RSA key. */
START_TEST(reject_bad_key)
{
    uint8_t junk[100], id[IDENTITY_ID_LEN], buf[DISCOVERY_PACKET_MAX];
    memset(junk, 0x30, sizeof junk);
    ck_assert_int_eq(mbedtls_sha256_ret(junk, sizeof junk, id, 0), 0);
    discovery_announce_fields f = fields("alice");
    size_t len = 0;
    ck_assert_int_eq(discovery_packet_encode_unsigned(id, &f, junk, sizeof junk, buf, sizeof buf, &len), NT_OK);
    buf[len] = 0x01, buf[len + 1] = 0x00; /* sig_len 256 */
    memset(buf + len + 2, 0x11, 256);
    ck_assert_int_eq(full_check(buf, len + 2 + 256, T0), DISC_BAD_KEY);
}
END_TEST

/* The key in the packet is 2048 bits but the signature is 384 bytes. */
START_TEST(reject_sig_len_not_keys)
{
    uint8_t der[IDENTITY_PUB_DER_MAX], buf[DISCOVERY_PACKET_MAX];
    size_t der_len = 0, len = 0;
    ck_assert_int_eq(identity_public_der(key2048, der, sizeof der, &der_len), NT_OK);
    discovery_announce_fields f = fields("alice");
    ck_assert_int_eq(discovery_packet_encode_unsigned(identity_id(key2048), &f, der, der_len, buf, sizeof buf, &len),
                     NT_OK);
    buf[len] = 0x01, buf[len + 1] = 0x80;
    memset(buf + len + 2, 0x22, 384);
    ck_assert_int_eq(full_check(buf, len + 2 + 384, T0), DISC_BAD_SIG_LEN);
}
END_TEST

/* Valid format, signed by another key: the forgery a LAN attacker can make. */
START_TEST(reject_signature_by_other_key)
{
    uint8_t der[IDENTITY_PUB_DER_MAX], buf[DISCOVERY_PACKET_MAX];
    size_t der_len = 0, len = 0, sig_len = 0;
    ck_assert_int_eq(identity_public_der(key2048, der, sizeof der, &der_len), NT_OK);
    discovery_announce_fields f = fields("mallory");
    ck_assert_int_eq(discovery_packet_encode_unsigned(identity_id(key2048), &f, der, der_len, buf, sizeof buf, &len),
                     NT_OK);
    ck_assert_int_eq(sign_create(other2048, SIGN_ANNOUNCE, buf, len, buf + len + 2, 512, &sig_len), NT_OK);
    buf[len] = 0x01, buf[len + 1] = 0x00;
    ck_assert_int_eq(full_check(buf, len + 2 + sig_len, T0), DISC_BAD_SIGNATURE);
    /* and the right key over another domain */
    ck_assert_int_eq(sign_create(key2048, SIGN_MESSAGE, buf, len, buf + len + 2, 512, &sig_len), NT_OK);
    ck_assert_int_eq(full_check(buf, len + 2 + sig_len, T0), DISC_BAD_SIGNATURE);
    ck_assert_int_eq(sign_create(key2048, SIGN_ANNOUNCE, buf, len, buf + len + 2, 512, &sig_len), NT_OK);
    ck_assert_int_eq(full_check(buf, len + 2 + sig_len, T0), DISC_OK);
}
END_TEST

/* --- names and encoder arguments -------------------------------------- */

static const struct {
    const char *s;
    bool ok;
} names[] = {
    {"alice", true},
    {"h\xc3\xa9llo", true},
    {"\xe6\x97\xa5\xe6\x9c\xac", true},
    {"\xf0\x9f\x98\x80", true},
    {"a b-c_d.e", true},
    {"", false},
    {"\x01", false},
    {"tab\there", false},
    {"\x7f", false},
    {"\xc0\x80", false},
    {"\xe0\x80\xaf", false},
    {"\xed\xa0\x80", false},
    {"\xf4\x90\x80\x80", false},
    {"\xc2\x80", false},
    {"\xe6\x97", false},
    {"\x80", false},
    {"\xff", false},
    /* the rule of every name (text_name_valid): nothing that looks like another name */
    {"   ", false},
    {" alice", false},
    {"alice ", false},
    {"alice\xe2\x80\x8d", false},     /* ZWJ */
    {"alice\xe2\x80\x8c", false},     /* ZWNJ */
    {"alice\xe3\x85\xa4", false},     /* Hangul filler */
    {"alice\xe2\x81\xa0", false},     /* word joiner */
};

START_TEST(name_rules)
{
    ck_assert_msg(discovery_packet_name_ok(names[_i].s, strlen(names[_i].s)) == names[_i].ok, "name %d", _i);
}
END_TEST

START_TEST(name_length_cap)
{
    char n[DISCOVERY_NAME_MAX + 2];
    memset(n, 'a', sizeof n);
    ck_assert(discovery_packet_name_ok(n, DISCOVERY_NAME_MAX));
    ck_assert(!discovery_packet_name_ok(n, DISCOVERY_NAME_MAX + 1));
}
END_TEST

START_TEST(encoder_refuses_bad_arguments)
{
    uint8_t buf[DISCOVERY_PACKET_MAX];
    size_t len = 0;
    discovery_announce_fields f = fields("bad\nname");
    ck_assert_int_eq(discovery_packet_encode_announce(key2048, &f, buf, sizeof buf, &len), NT_ERR_INVALID);
    f = fields("ok");
    f.peer_port = 0;
    ck_assert_int_eq(discovery_packet_encode_announce(key2048, &f, buf, sizeof buf, &len), NT_ERR_INVALID);
    f = fields("ok");
    ck_assert_int_eq(discovery_packet_encode_announce(key2048, &f, buf, 400, &len), NT_ERR_TOO_BIG);
    ck_assert_int_eq(discovery_packet_encode_query(identity_id(key2048), buf, T0, buf, 61, &len), NT_ERR_TOO_BIG);
}
END_TEST

START_TEST(drop_names_are_distinct)
{
    for (int a = 0; a < DISC__COUNT; a++) {
        ck_assert_str_ne(discovery_drop_str((discovery_drop)a), "unknown");
        for (int b = a + 1; b < DISC__COUNT; b++)
            ck_assert_str_ne(discovery_drop_str((discovery_drop)a), discovery_drop_str((discovery_drop)b));
    }
    ck_assert_str_eq(discovery_drop_str(DISC__COUNT), "unknown");
}
END_TEST

/* --- type 3: goodbye flag and listen address ----------------------- */

static const uint8_t LO1[4] = {127, 0, 0, 1};

START_TEST(goodbye_and_address_roundtrip)
{
    uint8_t buf[DISCOVERY_PACKET_MAX];
    size_t len = 0, plain_len = make(buf, key2048, "alice");
    discovery_packet p;
    ck_assert_int_eq(discovery_packet_decode(buf, plain_len, &p), DISC_OK);
    ck_assert_int_eq(p.type, DISCOVERY_ANNOUNCE); /* nothing to say: still type 1 */
    ck_assert_uint_eq(p.flags, 0);
    ck_assert(!p.has_addr);

    discovery_announce_fields f = fields("alice");
    f.flags = DISCOVERY_FLAG_GOODBYE;
    f.has_addr = true;
    memcpy(f.addr, LO1, 4);
    ck_assert_int_eq(discovery_packet_encode_announce(key2048, &f, buf, sizeof buf, &len), NT_OK);
    ck_assert_uint_eq(len, plain_len + 2 + 4);
    ck_assert_int_eq(full_check(buf, len, T0), DISC_OK);
    ck_assert_int_eq(discovery_packet_decode(buf, len, &p), DISC_OK);
    ck_assert_int_eq(p.type, DISCOVERY_ANNOUNCE_EXT);
    ck_assert_uint_eq(p.flags, DISCOVERY_FLAG_GOODBYE);
    ck_assert(p.has_addr);
    ck_assert_mem_eq(p.addr, LO1, 4);
    ck_assert_uint_eq(p.seq, 7);
    ck_assert_str_eq(p.name, "alice");
    ck_assert_uint_eq(p.key_len, 294);

    f.has_addr = false; /* a goodbye from a node on every address */
    ck_assert_int_eq(discovery_packet_encode_announce(key2048, &f, buf, sizeof buf, &len), NT_OK);
    ck_assert_uint_eq(len, plain_len + 2);
    ck_assert_int_eq(full_check(buf, len, T0), DISC_OK);
}
END_TEST

/* The flag and the address are signed: a goodbye cannot be made from an
 * announcement, nor an address changed, without the key. */
START_TEST(goodbye_and_address_are_signed)
{
    uint8_t buf[DISCOVERY_PACKET_MAX];
    size_t len = 0;
    discovery_announce_fields f = fields("alice");
    f.has_addr = true;
    memcpy(f.addr, LO1, 4);
    ck_assert_int_eq(discovery_packet_encode_announce(key2048, &f, buf, sizeof buf, &len), NT_OK);
    size_t off_flags = DISCOVERY_HEADER_LEN + 7 + 5;
    ck_assert_uint_eq(buf[off_flags], 0);
    ck_assert_uint_eq(buf[off_flags + 1], 4);
    uint8_t copy[DISCOVERY_PACKET_MAX];
    memcpy(copy, buf, len);
    copy[off_flags] = DISCOVERY_FLAG_GOODBYE;
    ck_assert_int_eq(full_check(copy, len, T0), DISC_BAD_SIGNATURE);
    memcpy(copy, buf, len);
    copy[off_flags + 5] = 2; /* 127.0.0.2 */
    ck_assert_int_eq(full_check(copy, len, T0), DISC_BAD_SIGNATURE);
    memcpy(copy, buf, len);
    copy[off_flags + 1] = 3; /* addr_len neither 0 nor 4 */
    ck_assert_int_eq(full_check(copy, len, T0), DISC_BAD_ADDR);
    copy[off_flags + 1] = 16;
    ck_assert_int_eq(full_check(copy, len, T0), DISC_BAD_ADDR);
    /* a goodbye for alice's id signed by another key */
    uint8_t der[IDENTITY_PUB_DER_MAX];
    size_t der_len = 0, head = 0, sig_len = 0;
    f.flags = DISCOVERY_FLAG_GOODBYE;
    ck_assert_int_eq(identity_public_der(key2048, der, sizeof der, &der_len), NT_OK);
    ck_assert_int_eq(discovery_packet_encode_unsigned(identity_id(key2048), &f, der, der_len, copy, sizeof copy, &head),
                     NT_OK);
    ck_assert_int_eq(sign_create(other2048, SIGN_ANNOUNCE, copy, head, copy + head + 2, 512, &sig_len), NT_OK);
    copy[head] = 0x01, copy[head + 1] = 0x00;
    ck_assert_int_eq(full_check(copy, head + 2 + sig_len, T0), DISC_BAD_SIGNATURE);
}
END_TEST

static const struct {
    const char *what;
    bool has_addr;
    uint8_t addr[4], src[4], want[4];
    discovery_drop r;
} addr_cases[] = {
    {"no address: the source", false, {0}, {10, 0, 0, 7}, {10, 0, 0, 7}, DISC_OK},
    {"the source itself", true, {10, 0, 0, 7}, {10, 0, 0, 7}, {10, 0, 0, 7}, DISC_OK},
    {"loopback from loopback", true, {127, 0, 0, 1}, {127, 0, 0, 1}, {127, 0, 0, 1}, DISC_OK},
    {"127.0.0.2 from 127.0.0.1", true, {127, 0, 0, 2}, {127, 0, 0, 1}, {127, 0, 0, 2}, DISC_OK},
    {"loopback from the LAN", true, {127, 0, 0, 1}, {10, 0, 0, 7}, {0}, DISC_BAD_ADDR},
    {"LAN address from loopback", true, {10, 0, 0, 7}, {127, 0, 0, 1}, {0}, DISC_BAD_ADDR},
    {"another LAN address", true, {10, 0, 0, 8}, {10, 0, 0, 7}, {0}, DISC_BAD_ADDR},
};

START_TEST(address_choice)
{
    discovery_packet p;
    memset(&p, 0, sizeof p);
    p.has_addr = addr_cases[_i].has_addr;
    memcpy(p.addr, addr_cases[_i].addr, 4);
    uint8_t out[4] = {0};
    discovery_drop r = discovery_packet_address(&p, addr_cases[_i].src, out);
    ck_assert_msg(r == addr_cases[_i].r, "%s: %s", addr_cases[_i].what, discovery_drop_str(r));
    if (r == DISC_OK)
        ck_assert_msg(!memcmp(out, addr_cases[_i].want, 4), "%s: wrong address", addr_cases[_i].what);
}
END_TEST

int test_setup(void)
{
    if (rng_init() != NT_OK)
        return EXIT_FAILURE;
    if (identity_load(&key2048, VEC "test-rsa2048.pem") != NT_OK ||
        identity_load(&key4096, VEC "test-rsa4096.pem") != NT_OK ||
        identity_generate(&other2048, 2048) != NT_OK) {
        fprintf(stderr, "cannot load test keys from " VEC " (run from the repository root)\n");
        return EXIT_FAILURE;
    }
    if (getenv("DISCOVERY_MAKE_VECTOR")) { /* how announce-2048.hex was made */
        uint8_t buf[DISCOVERY_PACKET_MAX];
        char hex[2 * DISCOVERY_PACKET_MAX + 1];
        discovery_announce_fields f = fields("test node \xc3\xa9");
        size_t len = 0;
        if (discovery_packet_encode_announce(key2048, &f, buf, sizeof buf, &len) != NT_OK ||
            encoding_hex_encode(buf, len, hex, sizeof hex) != NT_OK)
            return EXIT_FAILURE;
        puts(hex);
        return EXIT_SUCCESS;
    }
    return TEST_GO;
}

Suite *test_suite(void)
{
    Suite *s = suite_create("discovery_packet");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, vector_query);
    tcase_add_test(tc, vector_announce);
    tcase_add_test(tc, roundtrip_2048);
    tcase_add_test(tc, rsa4096_key_only_when_it_fits);
    tcase_add_test(tc, max_name_2048_and_3072_sizes);
    tcase_add_test(tc, reject_too_big);
    tcase_add_test(tc, reject_every_truncation);
    tcase_add_loop_test(tc, reject_mutation, 0, sizeof mutations / sizeof mutations[0]);
    tcase_add_test(tc, reject_trailing);
    tcase_add_test(tc, reject_time_skew);
    tcase_add_test(tc, reject_bad_key);
    tcase_add_test(tc, binding_only_check);
    tcase_add_test(tc, reject_sig_len_not_keys);
    tcase_add_test(tc, reject_signature_by_other_key);
    tcase_add_loop_test(tc, name_rules, 0, sizeof names / sizeof names[0]);
    tcase_add_test(tc, name_length_cap);
    tcase_add_test(tc, encoder_refuses_bad_arguments);
    tcase_add_test(tc, drop_names_are_distinct);
    tcase_add_test(tc, goodbye_and_address_roundtrip);
    tcase_add_test(tc, goodbye_and_address_are_signed);
    tcase_add_loop_test(tc, address_choice, 0, sizeof addr_cases / sizeof addr_cases[0]);
    suite_add_tcase(s, tc);
    return s;
}

int test_teardown(int failed)
{
    identity_free(key2048);
    identity_free(key4096);
    identity_free(other2048);
    rng_free();
    return failed;
}
