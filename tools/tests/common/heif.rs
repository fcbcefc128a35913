//! HEIC fixtures as phones write them. `heif-enc` (libheif-examples) encodes the pixels; this
//! module re-assembles its coded images into the layouts heif-enc 1.15 cannot write: a tile
//! grid (iPhones store 512×512 tiles), an `irot` rotation, an EXIF item with its own
//! orientation. Boxes follow ISO/IEC 23008-12 (HEIF) and 14496-12 (ISO-BMFF).

use std::path::Path;
use std::process::Command;

/// One image heif-enc coded: its `hvcC` and `colr` property boxes (whole, with headers), its
/// size and its coded data (length-prefixed NAL units).
#[derive(Clone)]
pub struct Coded {
    pub hvcc: Vec<u8>,
    pub colr: Option<Vec<u8>>,
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// Encodes the image file `source` (PNG or JPEG; a JPEG's ICC profile is kept) with heif-enc
/// and returns its coded image.
pub fn encode(dir: &Path, source: &Path, quality: u8) -> Coded {
    let out = dir.join(format!(
        "{}.heic",
        source.file_stem().unwrap().to_string_lossy()
    ));
    let status = Command::new("heif-enc")
        .args(["-q", &quality.to_string(), "-o"])
        .arg(&out)
        .arg(source)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("heif-enc (libheif-examples, installed by scripts/setup) must be on PATH");
    assert!(status.success(), "heif-enc {}", source.display());
    parse(&std::fs::read(out).unwrap())
}

/// How the coded images are laid out in the file.
pub struct Layout {
    /// One image, or the tiles of a grid in row-major order.
    pub tiles: Vec<Coded>,
    pub columns: u8,
    /// The grid's output size (its tiles cropped to it); unused for one image.
    pub width: u32,
    pub height: u32,
    /// `irot` angle: this many quarter turns anti-clockwise.
    pub quarter_turns: Option<u8>,
    /// An EXIF item with this orientation tag, as phones also write.
    pub exif_orientation: Option<u16>,
}

/// The HEIF file of `layout`: ftyp, meta, mdat.
pub fn assemble(layout: &Layout) -> Vec<u8> {
    let ftyp = boxed(b"ftyp", b"heic\0\0\0\0mif1heic");
    let grid = layout.tiles.len() > 1;
    // item 1 is the primary: the grid, or the only image; the tiles follow; then EXIF
    let tile_ids: Vec<u16> = if grid {
        (2..2 + layout.tiles.len() as u16).collect()
    } else {
        vec![1]
    };
    let exif_id = tile_ids.last().unwrap() + 1;

    let mut payloads: Vec<(u16, Vec<u8>)> = Vec::new();
    if grid {
        let rows = layout.tiles.len() as u8 / layout.columns;
        let mut descriptor = vec![0, 0, rows - 1, layout.columns - 1];
        descriptor.extend_from_slice(&(layout.width as u16).to_be_bytes());
        descriptor.extend_from_slice(&(layout.height as u16).to_be_bytes());
        payloads.push((1, descriptor));
    }
    for (id, tile) in tile_ids.iter().zip(&layout.tiles) {
        payloads.push((*id, tile.data.clone()));
    }
    if let Some(orientation) = layout.exif_orientation {
        payloads.push((exif_id, exif(orientation)));
    }

    let meta = |mdat_start: u32| {
        let mut infe = Vec::new();
        let mut entries = 0u16;
        let mut item = |id: u16, kind: &[u8; 4], hidden: bool| {
            let mut body = vec![2, 0, 0, u8::from(hidden)];
            body.extend_from_slice(&id.to_be_bytes());
            body.extend_from_slice(&[0, 0]);
            body.extend_from_slice(kind);
            body.push(0);
            infe.extend(boxed(b"infe", &body));
            entries += 1;
        };
        if grid {
            item(1, b"grid", false);
        }
        for id in &tile_ids {
            item(*id, b"hvc1", grid);
        }
        if layout.exif_orientation.is_some() {
            item(exif_id, b"Exif", false);
        }
        let iinf = full(b"iinf", &[&entries.to_be_bytes()[..], &infe].concat());

        let mut iref = Vec::new();
        if grid {
            let mut dimg = 1u16.to_be_bytes().to_vec();
            dimg.extend_from_slice(&(tile_ids.len() as u16).to_be_bytes());
            tile_ids
                .iter()
                .for_each(|id| dimg.extend_from_slice(&id.to_be_bytes()));
            iref.extend(boxed(b"dimg", &dimg));
        }
        if layout.exif_orientation.is_some() {
            let cdsc = [
                exif_id.to_be_bytes(),
                1u16.to_be_bytes(),
                1u16.to_be_bytes(),
            ]
            .concat();
            iref.extend(boxed(b"cdsc", &cdsc));
        }

        // properties: each tile's hvcC, the tile size, the grid size, colour, rotation
        let first = &layout.tiles[0];
        let mut ipco: Vec<Vec<u8>> = layout.tiles.iter().map(|t| t.hvcc.clone()).collect();
        ipco.push(ispe(first.width, first.height));
        let tile_ispe = ipco.len() as u8;
        let grid_ispe = grid.then(|| {
            ipco.push(ispe(layout.width, layout.height));
            ipco.len() as u8
        });
        let colr = first.colr.clone().map(|colr| {
            ipco.push(colr);
            ipco.len() as u8
        });
        let irot = layout.quarter_turns.map(|turns| {
            ipco.push(boxed(b"irot", &[turns & 3]));
            ipco.len() as u8
        });
        let mut associations: Vec<(u16, Vec<u8>)> = tile_ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let mut props = vec![0x80 | (i as u8 + 1), tile_ispe];
                props.extend(colr);
                (*id, props)
            })
            .collect();
        if let Some(grid_ispe) = grid_ispe {
            let mut props = vec![grid_ispe];
            props.extend(colr);
            associations.insert(0, (1, props));
        }
        associations[0].1.extend(irot.map(|i| 0x80 | i));
        let mut ipma = (associations.len() as u32).to_be_bytes().to_vec();
        for (id, props) in &associations {
            ipma.extend_from_slice(&id.to_be_bytes());
            ipma.push(props.len() as u8);
            ipma.extend_from_slice(props);
        }
        let iprp = boxed(
            b"iprp",
            &[boxed(b"ipco", &ipco.concat()), full(b"ipma", &ipma)].concat(),
        );

        // iloc v0: 4-byte offsets and lengths, no base offset; one extent per item
        let mut iloc = vec![0x44, 0x00];
        iloc.extend_from_slice(&(payloads.len() as u16).to_be_bytes());
        let mut offset = mdat_start;
        for (id, data) in &payloads {
            iloc.extend_from_slice(&id.to_be_bytes());
            iloc.extend_from_slice(&[0, 0, 0, 1]);
            iloc.extend_from_slice(&offset.to_be_bytes());
            iloc.extend_from_slice(&(data.len() as u32).to_be_bytes());
            offset += data.len() as u32;
        }
        let hdlr = full(b"hdlr", b"\0\0\0\0pict\0\0\0\0\0\0\0\0\0\0\0\0\0");
        let pitm = full(b"pitm", &1u16.to_be_bytes());
        let mut children = [hdlr, pitm, full(b"iloc", &iloc), iinf].concat();
        if !iref.is_empty() {
            children.extend(full(b"iref", &iref));
        }
        children.extend(iprp);
        full(b"meta", &children)
    };
    let header = (ftyp.len() + meta(0).len() + 8) as u32;
    let mdat = boxed(
        b"mdat",
        &payloads
            .iter()
            .flat_map(|(_, d)| d.clone())
            .collect::<Vec<_>>(),
    );
    [ftyp, meta(header), mdat].concat()
}

/// An EXIF payload as HEIF stores it: the offset of the TIFF header, then a big-endian TIFF
/// with one IFD entry, the orientation.
fn exif(orientation: u16) -> Vec<u8> {
    let mut tiff = vec![0, 0, 0, 0];
    tiff.extend_from_slice(b"MM\0*\0\0\0\x08");
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]);
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    tiff
}

fn ispe(width: u32, height: u32) -> Vec<u8> {
    full(
        b"ispe",
        &[width.to_be_bytes(), height.to_be_bytes()].concat(),
    )
}

pub fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    [&(8 + body.len() as u32).to_be_bytes()[..], kind, body].concat()
}

/// A full box, version 0 and flags 0.
fn full(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    boxed(kind, &[&[0u8; 4][..], body].concat())
}

/// The boxes laid end to end in `bytes`, each whole (header included) with its type.
fn boxes(mut bytes: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    while bytes.len() >= 8 {
        let size = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        let size = if size == 0 { bytes.len() } else { size };
        out.push((bytes[4..8].try_into().unwrap(), &bytes[..size]));
        bytes = &bytes[size..];
    }
    out
}

fn find<'a>(list: &[([u8; 4], &'a [u8])], kind: &[u8; 4]) -> Option<&'a [u8]> {
    list.iter().find(|(k, _)| k == kind).map(|(_, b)| *b)
}

/// The primary image of heif-enc's output (one image, no thumbnail).
fn parse(file: &[u8]) -> Coded {
    let top = boxes(file);
    let meta = find(&top, b"meta").expect("meta");
    let children = boxes(&meta[12..]);
    let pitm = find(&children, b"pitm").expect("pitm");
    let primary = u64::from(u16::from_be_bytes([pitm[12], pitm[13]]));
    let iloc = find(&children, b"iloc").expect("iloc");
    let data = extent(&iloc[8..], primary, file);
    let iprp = find(&children, b"iprp").expect("iprp");
    let ipco = find(&boxes(&iprp[8..]), b"ipco").expect("ipco");
    let properties = boxes(&ipco[8..]);
    let ispe = find(&properties, b"ispe").expect("ispe");
    Coded {
        hvcc: find(&properties, b"hvcC").expect("hvcC").to_vec(),
        colr: find(&properties, b"colr").map(<[u8]>::to_vec),
        width: u32::from_be_bytes(ispe[12..16].try_into().unwrap()),
        height: u32::from_be_bytes(ispe[16..20].try_into().unwrap()),
        data,
    }
}

/// The bytes of `item` from an `iloc` body (after its header), versions 0 to 2.
fn extent(body: &[u8], item: u64, file: &[u8]) -> Vec<u8> {
    let version = body[0];
    let mut at = 4;
    let read = |at: &mut usize, n: usize| {
        let value = body[*at..*at + n]
            .iter()
            .fold(0u64, |v, b| v << 8 | u64::from(*b));
        *at += n;
        value
    };
    let sizes = read(&mut at, 2);
    let (offset_size, length_size) = ((sizes >> 12) as usize, ((sizes >> 8) & 15) as usize);
    let (base_size, index_size) = (((sizes >> 4) & 15) as usize, (sizes & 15) as usize);
    let index_size = if version >= 1 { index_size } else { 0 };
    let count = read(&mut at, if version < 2 { 2 } else { 4 });
    for _ in 0..count {
        let id = read(&mut at, if version < 2 { 2 } else { 4 });
        if version >= 1 {
            read(&mut at, 2); // construction method: heif-enc uses file offsets
        }
        read(&mut at, 2); // data reference index
        let base = read(&mut at, base_size);
        let extents = read(&mut at, 2);
        let mut data = Vec::new();
        for _ in 0..extents {
            read(&mut at, index_size);
            let offset = (base + read(&mut at, offset_size)) as usize;
            let length = read(&mut at, length_size) as usize;
            data.extend_from_slice(&file[offset..offset + length]);
        }
        if id == item {
            return data;
        }
    }
    panic!("no iloc entry for item {item}");
}
