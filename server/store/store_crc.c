/*
 * server/store/store_crc.c — CRC32C (Castagnoli), the checksum of every store
 * record and blob.
 *
 * Castagnoli rather than the zlib polynomial because x86 computes it in
 * hardware (SSE4.2 crc32, ~8 bytes a cycle): on a 1 KiB message that is
 * well under the cost of the write(2) it guards. Without SSE4.2 a
 * slicing-by-8 table (8 KiB, built once) does about a byte a cycle.
 * Unlike the common convention the caller passes the raw running value:
 * store__crc32c(seed, ...) starts from ~seed and returns ~crc, so pieces
 * chain as crc = store__crc32c(crc, next, n), and a seed of 0 gives the
 * standard CRC32C.
 */
#include "server/store/store_impl.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define HAVE_HW_CRC 1
#endif

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static bool use_hw;

static void init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
#ifdef HAVE_HW_CRC
    __builtin_cpu_init();
    use_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t sw(uint32_t crc, const uint8_t *p, size_t n)
{
    for (; n && ((uintptr_t)p & 7); n--)
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8); /* little-endian hosts only, as the whole format */
        w ^= crc;
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
              table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^
              table[2][(w >> 40) & 0xff] ^ table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
    }
    while (n--)
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return crc;
}

#ifdef HAVE_HW_CRC
__attribute__((target("sse4.2"))) static uint32_t hw(uint32_t crc, const uint8_t *p, size_t n)
{
    uint64_t c = crc;
    for (; n && ((uintptr_t)p & 7); n--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
    }
    while (n--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

uint32_t store__crc32c_sw(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&table_once, init);
    return ~sw(~crc, p, n);
}

uint32_t store__crc32c(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&table_once, init);
#ifdef HAVE_HW_CRC
    if (use_hw)
        return ~hw(~crc, p, n);
#endif
    return ~sw(~crc, p, n);
}
