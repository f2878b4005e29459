//! Small PDFs written by hand for the tests and the benchmark: a deck of
//! 16:9 slides, each with its own background colour, a title, a few lines
//! of text and some shapes, and a password-protected variant. Offsets in
//! the cross-reference table are computed, so the files are valid.

/// One page's content stream.
fn slide(n: usize) -> String {
    let (r, g, b) = (
        (n * 53 % 200) as f32 / 255.0 + 0.1,
        (n * 97 % 200) as f32 / 255.0 + 0.1,
        (n * 31 % 200) as f32 / 255.0 + 0.1,
    );
    let mut s = format!(
        "q {r:.3} {g:.3} {b:.3} rg 0 0 960 540 re f Q\n\
         q 1 1 1 rg 60 60 840 300 re f Q\n\
         BT /F1 72 Tf 1 1 1 rg 60 420 Td (Slide {n}) Tj ET\n"
    );
    for line in 0..6 {
        let y = 320 - line * 40;
        s.push_str(&format!(
            "BT /F1 24 Tf 0.1 0.1 0.1 rg 90 {y} Td (Point {line} of slide {n}: the quick brown fox jumps.) Tj ET\n"
        ));
    }
    // A circle of four Bezier curves and a stroked path.
    s.push_str(&format!(
        "q {b:.3} {r:.3} {g:.3} rg 820 450 m 820 477.6 797.6 500 770 500 c \
         742.4 500 720 477.6 720 450 c 720 422.4 742.4 400 770 400 c \
         797.6 400 820 422.4 820 450 c f Q\n\
         q 0 0 0 RG 4 w 100 90 m 300 150 l 500 100 l 700 160 l 860 90 l S Q\n"
    ));
    s
}

/// Writes objects 1.. (given as bodies) and a trailer with `trailer_extra`.
fn write_pdf(objects: &[String], trailer_extra: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R {trailer_extra} >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn deck_objects(pages: usize) -> Vec<String> {
    // 1 catalog, 2 pages, 3 font, then (page, content) per slide.
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    for i in 0..pages {
        let content = slide(i + 1);
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 960 540] \
             /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}endstream",
            content.len()
        ));
    }
    objects
}

/// A deck of `pages` slides.
pub fn deck(pages: usize) -> Vec<u8> {
    write_pdf(&deck_objects(pages), "")
}

/// A deck protected by a user password (standard security handler, RC4
/// 40-bit): no reader opens it without the password.
pub fn encrypted_deck(pages: usize) -> Vec<u8> {
    let mut objects = deck_objects(pages);
    let n = objects.len() + 1;
    objects.push(format!(
        "<< /Filter /Standard /V 1 /R 2 /O <{}> /U <{}> /P -3904 >>",
        "6d".repeat(32),
        "a5".repeat(32)
    ));
    write_pdf(
        &objects,
        &format!(
            "/Encrypt {n} 0 R /ID [<{id}> <{id}>]",
            id = "0123456789abcdef0123456789abcdef"
        ),
    )
}
