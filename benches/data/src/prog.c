#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>


typedef struct node { struct node *l, *r; int key; int h; } node;
static int height(node *n) { return n ? n->h : 0; }
static int maxi(int a, int b) { return a > b ? a : b; }
static node *rot_r(node *y) { node *x = y->l; y->l = x->r; x->r = y;
  y->h = 1 + maxi(height(y->l), height(y->r)); x->h = 1 + maxi(height(x->l), height(x->r)); return x; }
static node *rot_l(node *x) { node *y = x->r; x->r = y->l; y->l = x;
  x->h = 1 + maxi(height(x->l), height(x->r)); y->h = 1 + maxi(height(y->l), height(y->r)); return y; }
static node *avl_insert(node *n, int key) {
  if (!n) { n = calloc(1, sizeof *n); n->key = key; n->h = 1; return n; }
  if (key < n->key) n->l = avl_insert(n->l, key);
  else if (key > n->key) n->r = avl_insert(n->r, key);
  else return n;
  n->h = 1 + maxi(height(n->l), height(n->r));
  int b = height(n->l) - height(n->r);
  if (b > 1 && key < n->l->key) return rot_r(n);
  if (b < -1 && key > n->r->key) return rot_l(n);
  if (b > 1 && key > n->l->key) { n->l = rot_l(n->l); return rot_r(n); }
  if (b < -1 && key < n->r->key) { n->r = rot_r(n->r); return rot_l(n); }
  return n;
}

static uint64_t mix0(uint64_t x) {
  x ^= x >> 13; x *= 0x9E3779B97F4A7C15ull + 0u;
  for (int k = 0; k < 3; k++) {
    x = (x << 1) | (x >> 63);
    x += (uint64_t)k * 17;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 1;
  }
  switch (x % 4) { case 0: x += 0; break; case 1: x ^= 0; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort0(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix1(uint64_t x) {
  x ^= x >> 14; x *= 0x9E3779B97F4A7C15ull + 1u;
  for (int k = 0; k < 4; k++) {
    x = (x << 2) | (x >> 62);
    x += (uint64_t)k * 18;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 32;
  }
  switch (x % 4) { case 0: x += 1; break; case 1: x ^= 7; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort1(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix2(uint64_t x) {
  x ^= x >> 15; x *= 0x9E3779B97F4A7C15ull + 2u;
  for (int k = 0; k < 5; k++) {
    x = (x << 3) | (x >> 61);
    x += (uint64_t)k * 19;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 63;
  }
  switch (x % 4) { case 0: x += 2; break; case 1: x ^= 14; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort2(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix3(uint64_t x) {
  x ^= x >> 16; x *= 0x9E3779B97F4A7C15ull + 3u;
  for (int k = 0; k < 6; k++) {
    x = (x << 4) | (x >> 60);
    x += (uint64_t)k * 20;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 94;
  }
  switch (x % 4) { case 0: x += 3; break; case 1: x ^= 21; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort3(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix4(uint64_t x) {
  x ^= x >> 17; x *= 0x9E3779B97F4A7C15ull + 4u;
  for (int k = 0; k < 7; k++) {
    x = (x << 5) | (x >> 59);
    x += (uint64_t)k * 21;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 125;
  }
  switch (x % 4) { case 0: x += 4; break; case 1: x ^= 28; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort4(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix5(uint64_t x) {
  x ^= x >> 18; x *= 0x9E3779B97F4A7C15ull + 5u;
  for (int k = 0; k < 3; k++) {
    x = (x << 6) | (x >> 58);
    x += (uint64_t)k * 22;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 156;
  }
  switch (x % 4) { case 0: x += 5; break; case 1: x ^= 35; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort5(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix6(uint64_t x) {
  x ^= x >> 19; x *= 0x9E3779B97F4A7C15ull + 6u;
  for (int k = 0; k < 4; k++) {
    x = (x << 7) | (x >> 57);
    x += (uint64_t)k * 23;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 187;
  }
  switch (x % 4) { case 0: x += 6; break; case 1: x ^= 42; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort6(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix7(uint64_t x) {
  x ^= x >> 13; x *= 0x9E3779B97F4A7C15ull + 7u;
  for (int k = 0; k < 5; k++) {
    x = (x << 8) | (x >> 56);
    x += (uint64_t)k * 24;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 218;
  }
  switch (x % 4) { case 0: x += 7; break; case 1: x ^= 49; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort7(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix8(uint64_t x) {
  x ^= x >> 14; x *= 0x9E3779B97F4A7C15ull + 8u;
  for (int k = 0; k < 6; k++) {
    x = (x << 9) | (x >> 55);
    x += (uint64_t)k * 25;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 249;
  }
  switch (x % 4) { case 0: x += 8; break; case 1: x ^= 56; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort8(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix9(uint64_t x) {
  x ^= x >> 15; x *= 0x9E3779B97F4A7C15ull + 9u;
  for (int k = 0; k < 7; k++) {
    x = (x << 10) | (x >> 54);
    x += (uint64_t)k * 26;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 280;
  }
  switch (x % 4) { case 0: x += 9; break; case 1: x ^= 63; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort9(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix10(uint64_t x) {
  x ^= x >> 16; x *= 0x9E3779B97F4A7C15ull + 10u;
  for (int k = 0; k < 3; k++) {
    x = (x << 11) | (x >> 53);
    x += (uint64_t)k * 27;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 311;
  }
  switch (x % 4) { case 0: x += 10; break; case 1: x ^= 70; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort10(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix11(uint64_t x) {
  x ^= x >> 17; x *= 0x9E3779B97F4A7C15ull + 11u;
  for (int k = 0; k < 4; k++) {
    x = (x << 1) | (x >> 63);
    x += (uint64_t)k * 28;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 342;
  }
  switch (x % 4) { case 0: x += 11; break; case 1: x ^= 77; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort11(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix12(uint64_t x) {
  x ^= x >> 18; x *= 0x9E3779B97F4A7C15ull + 12u;
  for (int k = 0; k < 5; k++) {
    x = (x << 2) | (x >> 62);
    x += (uint64_t)k * 29;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 373;
  }
  switch (x % 4) { case 0: x += 12; break; case 1: x ^= 84; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort12(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix13(uint64_t x) {
  x ^= x >> 19; x *= 0x9E3779B97F4A7C15ull + 13u;
  for (int k = 0; k < 6; k++) {
    x = (x << 3) | (x >> 61);
    x += (uint64_t)k * 30;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 404;
  }
  switch (x % 4) { case 0: x += 13; break; case 1: x ^= 91; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort13(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix14(uint64_t x) {
  x ^= x >> 13; x *= 0x9E3779B97F4A7C15ull + 14u;
  for (int k = 0; k < 7; k++) {
    x = (x << 4) | (x >> 60);
    x += (uint64_t)k * 31;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 435;
  }
  switch (x % 4) { case 0: x += 14; break; case 1: x ^= 98; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort14(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix15(uint64_t x) {
  x ^= x >> 14; x *= 0x9E3779B97F4A7C15ull + 15u;
  for (int k = 0; k < 3; k++) {
    x = (x << 5) | (x >> 59);
    x += (uint64_t)k * 32;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 466;
  }
  switch (x % 4) { case 0: x += 15; break; case 1: x ^= 105; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort15(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix16(uint64_t x) {
  x ^= x >> 15; x *= 0x9E3779B97F4A7C15ull + 16u;
  for (int k = 0; k < 4; k++) {
    x = (x << 6) | (x >> 58);
    x += (uint64_t)k * 33;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 497;
  }
  switch (x % 4) { case 0: x += 16; break; case 1: x ^= 112; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort16(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix17(uint64_t x) {
  x ^= x >> 16; x *= 0x9E3779B97F4A7C15ull + 17u;
  for (int k = 0; k < 5; k++) {
    x = (x << 7) | (x >> 57);
    x += (uint64_t)k * 34;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 528;
  }
  switch (x % 4) { case 0: x += 17; break; case 1: x ^= 119; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort17(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix18(uint64_t x) {
  x ^= x >> 17; x *= 0x9E3779B97F4A7C15ull + 18u;
  for (int k = 0; k < 6; k++) {
    x = (x << 8) | (x >> 56);
    x += (uint64_t)k * 35;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 559;
  }
  switch (x % 4) { case 0: x += 18; break; case 1: x ^= 126; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort18(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix19(uint64_t x) {
  x ^= x >> 18; x *= 0x9E3779B97F4A7C15ull + 19u;
  for (int k = 0; k < 7; k++) {
    x = (x << 9) | (x >> 55);
    x += (uint64_t)k * 36;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 590;
  }
  switch (x % 4) { case 0: x += 19; break; case 1: x ^= 133; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort19(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix20(uint64_t x) {
  x ^= x >> 19; x *= 0x9E3779B97F4A7C15ull + 20u;
  for (int k = 0; k < 3; k++) {
    x = (x << 10) | (x >> 54);
    x += (uint64_t)k * 37;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 621;
  }
  switch (x % 4) { case 0: x += 20; break; case 1: x ^= 140; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort20(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix21(uint64_t x) {
  x ^= x >> 13; x *= 0x9E3779B97F4A7C15ull + 21u;
  for (int k = 0; k < 4; k++) {
    x = (x << 11) | (x >> 53);
    x += (uint64_t)k * 38;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 652;
  }
  switch (x % 4) { case 0: x += 21; break; case 1: x ^= 147; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort21(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix22(uint64_t x) {
  x ^= x >> 14; x *= 0x9E3779B97F4A7C15ull + 22u;
  for (int k = 0; k < 5; k++) {
    x = (x << 1) | (x >> 63);
    x += (uint64_t)k * 39;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 683;
  }
  switch (x % 4) { case 0: x += 22; break; case 1: x ^= 154; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort22(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}

static uint64_t mix23(uint64_t x) {
  x ^= x >> 15; x *= 0x9E3779B97F4A7C15ull + 23u;
  for (int k = 0; k < 6; k++) {
    x = (x << 2) | (x >> 62);
    x += (uint64_t)k * 40;
    if (x & 1) x ^= 0xDEADBEEFull; else x -= 714;
  }
  switch (x % 4) { case 0: x += 23; break; case 1: x ^= 161; break; case 2: x *= 3; break; default: x >>= 1; }
  return x;
}
static void sort23(uint64_t *a, size_t n) {
  for (size_t g = n / 2; g > 0; g /= 2)
    for (size_t j = g; j < n; j++) { uint64_t t = a[j]; size_t m = j;
      while (m >= g && a[m - g] > t) { a[m] = a[m - g]; m -= g; } a[m] = t; }
}
int main(int argc, char **argv) {
  uint64_t acc = 0; node *root = 0;
  uint64_t *buf = malloc(4096 * sizeof *buf);
  for (int j = 0; j < 4096; j++) buf[j] = mix0(j + acc);
  sort0(buf, 4096); acc += buf[0];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix1(j + acc);
  sort1(buf, 4096); acc += buf[97];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix2(j + acc);
  sort2(buf, 4096); acc += buf[194];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix3(j + acc);
  sort3(buf, 4096); acc += buf[291];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix4(j + acc);
  sort4(buf, 4096); acc += buf[388];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix5(j + acc);
  sort5(buf, 4096); acc += buf[485];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix6(j + acc);
  sort6(buf, 4096); acc += buf[582];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix7(j + acc);
  sort7(buf, 4096); acc += buf[679];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix8(j + acc);
  sort8(buf, 4096); acc += buf[776];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix9(j + acc);
  sort9(buf, 4096); acc += buf[873];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix10(j + acc);
  sort10(buf, 4096); acc += buf[970];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix11(j + acc);
  sort11(buf, 4096); acc += buf[1067];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix12(j + acc);
  sort12(buf, 4096); acc += buf[1164];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix13(j + acc);
  sort13(buf, 4096); acc += buf[1261];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix14(j + acc);
  sort14(buf, 4096); acc += buf[1358];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix15(j + acc);
  sort15(buf, 4096); acc += buf[1455];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix16(j + acc);
  sort16(buf, 4096); acc += buf[1552];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix17(j + acc);
  sort17(buf, 4096); acc += buf[1649];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix18(j + acc);
  sort18(buf, 4096); acc += buf[1746];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix19(j + acc);
  sort19(buf, 4096); acc += buf[1843];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix20(j + acc);
  sort20(buf, 4096); acc += buf[1940];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix21(j + acc);
  sort21(buf, 4096); acc += buf[2037];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix22(j + acc);
  sort22(buf, 4096); acc += buf[2134];
  root = avl_insert(root, (int)(acc & 0xffff));
  for (int j = 0; j < 4096; j++) buf[j] = mix23(j + acc);
  sort23(buf, 4096); acc += buf[2231];
  root = avl_insert(root, (int)(acc & 0xffff));
  printf("%llu %d\n", (unsigned long long)acc, height(root));
  (void)argc; (void)argv; free(buf); return 0;
}
