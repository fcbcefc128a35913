//! PNG files built byte by byte for the tests: forged headers and deflate bombs.
//! Included with `#[path]` by the test binaries that use it.

/// A `width`×`height` 16-bit RGBA PNG of zeros: 9900×9999 is 792 MB of pixels in a 0.8 MB
/// file (deflate's best ratio, about 1000:1).
///
/// Deflated by hand, so that making it needs no 792 MB buffer: one dynamic-Huffman block whose
/// only codes are literal 0 (2 bits), end of block (2 bits), length 258 (1 bit) and distance 1
/// (1 bit); the data (every row's filter byte 0 and its black pixels) is one literal 0 and
/// then 258-byte copies of it.
pub fn bomb(width: u32, height: u32) -> Vec<u8> {
    let total = (u64::from(width) * 8 + 1) * u64::from(height);
    let mut bits = Bits::default();
    bits.put(1, 1); // final block
    bits.put(2, 2); // dynamic Huffman codes
    bits.put(29, 5); // 286 literal/length codes
    bits.put(0, 5); // 1 distance code
    bits.put(14, 4); // 18 code-length codes, in the order below
    for len in [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2] {
        bits.put(len, 3); // 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1
    }
    // code-length codes: 18 → 0, 1 → 10, 2 → 11 (canonical)
    let (zeros, one, two) = ((0, 1), (0b10, 2), (0b11, 2));
    let run = |bits: &mut Bits, n: u64| {
        bits.code(zeros);
        bits.put(n - 11, 7); // code 18: n zeros, 11..=138
    };
    bits.code(two); // literal 0: length 2
    run(&mut bits, 138);
    run(&mut bits, 117); // literals 1..=255 unused
    bits.code(two); // 256 (end of block): length 2
    run(&mut bits, 28); // lengths 257..=284 unused
    bits.code(one); // 285 (length 258): length 1
    bits.code(one); // distance code 0 (distance 1): length 1
    // literal/length codes: 285 → 0, 0 → 10, 256 → 11; distance 0 → 0
    let (literal_zero, end, copy) = ((0b10, 2), (0b11, 2), (0b00, 2));
    bits.code(literal_zero);
    for _ in 0..(total - 1) / 258 {
        bits.code(copy);
    }
    for _ in 0..(total - 1) % 258 {
        bits.code(literal_zero);
    }
    bits.code(end);
    let mut zlib = vec![0x78, 0x01];
    zlib.extend(bits.bytes());
    // Adler-32 of zeros: a stays 1, b adds it once per byte
    zlib.extend(((((total % 65521) as u32) << 16) | 1).to_be_bytes());

    png(width, height, 16, 6, &zlib)
}

/// A PNG of `width`×`height` with one IDAT chunk (`zlib`), of `bit_depth` and `color_type` as
/// the IHDR chunk has them (6: RGBA).
pub fn png(width: u32, height: u32, bit_depth: u8, color_type: u8, zlib: &[u8]) -> Vec<u8> {
    let ihdr = [
        &width.to_be_bytes()[..],
        &height.to_be_bytes(),
        &[bit_depth, color_type, 0, 0, 0],
    ]
    .concat();
    [
        b"\x89PNG\r\n\x1a\n".to_vec(),
        chunk(b"IHDR", &ihdr),
        chunk(b"IDAT", zlib),
        chunk(b"IEND", &[]),
    ]
    .concat()
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let body = [kind.as_slice(), data].concat();
    [
        &u32::try_from(data.len()).unwrap().to_be_bytes()[..],
        &body,
        &crc32(&body).to_be_bytes(),
    ]
    .concat()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A DEFLATE bit stream: fields least significant bit first, Huffman codes most significant
/// bit first.
#[derive(Default)]
struct Bits {
    bytes: Vec<u8>,
    used: u32,
}

impl Bits {
    fn put(&mut self, value: u64, count: u32) {
        for i in 0..count {
            if self.used.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let bit = ((value >> i) & 1) as u8;
            *self.bytes.last_mut().unwrap() |= bit << (self.used % 8);
            self.used += 1;
        }
    }

    fn code(&mut self, (code, len): (u64, u32)) {
        let reversed = (0..len).fold(0, |r, i| r | (((code >> i) & 1) << (len - 1 - i)));
        self.put(reversed, len);
    }

    fn bytes(self) -> Vec<u8> {
        self.bytes
    }
}
