//! `amina import addresses` and `amina admin enrolment-code` as an operator
//! uses them.

use super::*;

const ADDRESS_HEADER: &str =
    "id,region,municipality,street,house,flat,residential,latitude,longitude\n";

#[test]
fn import_addresses_reports_refusals_and_never_half_applies() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo/addresses.csv");
    let report = json(&amina(
        dir.path(),
        &[
            "import",
            "addresses",
            demo.to_str().unwrap(),
            "--dry-run",
            "--json",
        ],
    ));
    assert_eq!(report["imported"], false);
    assert_eq!(report["rows_read"], 17);
    assert_eq!(report["accepted"], 16);
    assert_eq!(report["residential"], 13);
    let refused = report["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["id"], "demo-tve-0001");
    assert_eq!(refused[0]["reason"], "region_not_in_pilot");
    assert_eq!(refused[0]["line"], 18);

    let report = json(&amina(
        dir.path(),
        &["import", "addresses", demo.to_str().unwrap(), "--json"],
    ));
    assert_eq!(
        (report["inserted"].as_u64(), report["updated"].as_u64()),
        (Some(16), Some(0))
    );
    let again = json(&amina(
        dir.path(),
        &["import", "addresses", demo.to_str().unwrap(), "--json"],
    ));
    assert_eq!(
        (again["inserted"].as_u64(), again["updated"].as_u64()),
        (Some(0), Some(16))
    );

    // A row in the wrong region is refused on its own; a malformed row
    // refuses the whole file, with line numbers, and imports nothing.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "{ADDRESS_HEADER}new-1,RU-MOW,Москва,улица Арбат,10,1,1,55.7515,37.5960\n\
             new-2,RU-MOW,Москва,улица Арбат,10,2,1,55.7515,abc\n\
             new-3,RU-MOW,Москва,улица Арбат,10,3,maybe,55.7515,37.5960\n"
        ),
    )
    .unwrap();
    let out = amina(dir.path(), &["import", "addresses", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 malformed row(s); nothing was imported"),
        "{err}"
    );
    assert!(err.contains("line 3: longitude must be a number"), "{err}");
    assert!(err.contains("line 4: residential must be 1 or 0"), "{err}");
    let json_out = amina(
        dir.path(),
        &["import", "addresses", bad.to_str().unwrap(), "--json"],
    );
    assert!(!json_out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&json_out.stdout).unwrap();
    assert_eq!(report["imported"], false);
    assert_eq!(report["malformed"].as_array().unwrap().len(), 2);

    let wrong_region = dir.path().join("wrong.csv");
    std::fs::write(
        &wrong_region,
        format!("{ADDRESS_HEADER}new-4,RU-MOS,Красногорск,улица Арбат,10,4,1,55.7515,37.5960\n"),
    )
    .unwrap();
    let out = amina(
        dir.path(),
        &["import", "addresses", wrong_region.to_str().unwrap()],
    );
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("imported:    0 new, 0 updated"), "{text}");
    assert!(
        text.contains("line 2 address new-4: the coordinates are not inside region RU-MOS (coordinates_outside_region)"),
        "{text}"
    );
}

#[test]
fn enrolment_code_prints_a_link_and_draws_the_qr_code() {
    let dir = tempfile::tempdir().unwrap();
    let cards = dir.path().join("cards.csv");
    std::fs::write(
        &cards,
        format!(
            "{HEADER}AB3000001,s1,,Alisher Karimov,Алишер Каримов,UZB,1990-01-01,work,2035-01-01\n"
        ),
    )
    .unwrap();
    json(&amina(
        dir.path(),
        &["import", "cards", cards.to_str().unwrap(), "--json"],
    ));

    let out = amina(
        dir.path(),
        &[
            "admin",
            "enrolment-code",
            "AB3000001",
            "--actor",
            "sakharovo-4",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let code = text
        .lines()
        .find_map(|l| l.strip_prefix("code:"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(code.len(), 11, "{text}");
    assert!(
        text.contains(&format!("link:     http://127.0.0.1:8080/app/#code={code}")),
        "{text}"
    );
    // The QR code, drawn with half blocks.
    assert!(
        text.lines()
            .filter(|l| l.contains('▀') || l.contains('▄'))
            .count()
            > 10,
        "{text}"
    );

    let svg = dir.path().join("code.svg");
    let second = json(&amina(
        dir.path(),
        &[
            "admin",
            "enrolment-code",
            "ab 3000001",
            "--svg",
            svg.to_str().unwrap(),
            "--app-url",
            "https://amina.example/app",
            "--json",
        ],
    ));
    assert_eq!(second["card_number"], "AB3000001");
    assert_eq!(second["superseded"], 1, "the first code is replaced");
    let url = second["url"].as_str().unwrap();
    assert_eq!(
        url,
        format!(
            "https://amina.example/app/#code={}",
            second["code"].as_str().unwrap()
        )
    );
    let image = std::fs::read_to_string(&svg).unwrap();
    assert!(image.starts_with("<?xml"), "{image:.100}");
    assert!(
        image.contains("<svg") && image.contains("<path"),
        "{image:.200}"
    );

    let unknown = amina(dir.path(), &["admin", "enrolment-code", "ZZ9999999"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown card ZZ9999999"));
    let malformed = amina(dir.path(), &["admin", "enrolment-code", "A1"]);
    assert!(!malformed.status.success());
    assert!(String::from_utf8_lossy(&malformed.stderr).contains("card number"));
}
