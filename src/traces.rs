//! Reading trace CSV files (the format of ../shared/data/traces: columns
//! `user_id`, `tracked_at` (RFC 3339), `latitude`, `longitude`; other
//! columns ignored; `.gz` gunzipped) for `amina stays`, the detection
//! evaluation and the stay-point benchmark.
//!
//! A malformed row refuses the whole file with its line number; rows with
//! an empty, NaN or infinite coordinate are skipped and counted on stderr.

use std::collections::HashMap;
use std::path::Path;

use amina_domain::staypoints::Fix;
use anyhow::Context;
use jiff::Timestamp;

/// Every user's fixes in file order, users sorted by id.
pub fn read(path: &Path) -> anyhow::Result<Vec<(String, Vec<Fix>)>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let input: Box<dyn std::io::Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
            file,
        )))
    } else {
        Box::new(file)
    };
    let mut reader =
        csv::ReaderBuilder::new().from_reader(std::io::BufReader::with_capacity(1 << 16, input));
    let headers = reader
        .headers()
        .with_context(|| format!("{}: reading the header", path.display()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| format!("{}: no `{name}` column in the header", path.display()))
    };
    let (c_user, c_time, c_lat, c_lon) = (
        column("user_id")?,
        column("tracked_at")?,
        column("latitude")?,
        column("longitude")?,
    );
    let mut by_user: HashMap<String, Vec<Fix>> = HashMap::new();
    let mut skipped = 0usize;
    let mut record = csv::StringRecord::new();
    loop {
        let more = reader
            .read_record(&mut record)
            .with_context(|| format!("{}: reading", path.display()))?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        let bad = |what: String| anyhow::anyhow!("{}: line {line}: {what}", path.display());
        let field = |i: usize| {
            record
                .get(i)
                .map(str::trim)
                .ok_or_else(|| bad(format!("missing column {}", i + 1)))
        };
        let user = field(c_user)?;
        if user.is_empty() {
            return Err(bad("empty user_id".into()));
        }
        let time = field(c_time)?;
        let at: Timestamp = time.parse().map_err(|e| {
            bad(format!(
                "tracked_at {time:?} is not an RFC 3339 instant: {e}"
            ))
        })?;
        let coordinate = |i: usize, name: &str, max: f64| -> anyhow::Result<f64> {
            let text = field(i)?;
            if text.is_empty() {
                return Ok(f64::NAN);
            }
            let v: f64 = text
                .parse()
                .map_err(|_| bad(format!("{name} {text:?} is not a number")))?;
            if v.is_finite() && !(-max..=max).contains(&v) {
                return Err(bad(format!("{name} {v} is outside [-{max}, {max}]")));
            }
            Ok(v)
        };
        let (lat, lon) = (
            coordinate(c_lat, "latitude", 90.0)?,
            coordinate(c_lon, "longitude", 180.0)?,
        );
        if !lat.is_finite() || !lon.is_finite() {
            skipped += 1;
            continue;
        }
        let fix = Fix { at, lat, lon };
        match by_user.get_mut(user) {
            Some(v) => v.push(fix),
            None => {
                by_user.insert(user.to_owned(), vec![fix]);
            }
        }
    }
    if skipped > 0 {
        eprintln!(
            "{}: skipped {skipped} row(s) without finite coordinates",
            path.display()
        );
    }
    let mut users: Vec<_> = by_user.into_iter().collect();
    users.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(users)
}
