/*
 * proto/utf8.c — UTF-8 validation by Go's rules (see utf8.h): the lead
 * byte fixes the length and the range of the second byte, which is where
 * overlong forms (E0, F0), surrogates (ED) and code points past U+10FFFF
 * (F4) are refused; the later bytes are plain continuation bytes.
 */
#include "proto/utf8.h"

size_t utf8_decode(const unsigned char *p, size_t avail, unsigned long *rune)
{
    unsigned char b = p[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;
    if (b < 0x80) {
        *rune = b;
        return 1;
    }
    if (b >= 0xc2 && b <= 0xdf)
        n = 2, *rune = b & 0x1f;
    else if (b >= 0xe0 && b <= 0xef)
        n = 3, *rune = b & 0x0f;
    else if (b >= 0xf0 && b <= 0xf4)
        n = 4, *rune = b & 0x07;
    else
        return 0;
    if (b == 0xe0)
        lo = 0xa0;
    else if (b == 0xed)
        hi = 0x9f;
    else if (b == 0xf0)
        lo = 0x90;
    else if (b == 0xf4)
        hi = 0x8f;
    if (avail < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
        *rune = *rune << 6 | (p[i] & 0x3f);
    }
    return n;
}

size_t utf8_seq_len(const unsigned char *p, size_t avail)
{
    unsigned long rune;
    return utf8_decode(p, avail, &rune);
}

bool utf8_valid(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq_len(p + i, len - i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}
