//! Reading region polygons from GeoJSON (RFC 7946).
//!
//! Only what the geofence needs is read: for each feature whose `code`
//! property is a pilot code, its names and its `Polygon` / `MultiPolygon`
//! geometry. Features of other regions are skipped without looking at their
//! geometry, so one file can hold the pilot and its neighbours.
//!
//! The checks are strict because a wrong polygon silently moves people in or
//! out of the region: rings must be closed, have at least four positions, and
//! every position must be a finite WGS 84 longitude/latitude pair. An error
//! names the region and what was wrong.

use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::Value;

use super::GeofenceError;

/// One pilot region as read from the file.
pub(crate) struct ParsedRegion {
    pub name_en: String,
    pub name_ru: String,
    pub shape: MultiPolygon<f64>,
}

/// Reads the features whose `code` is one of `codes`, in the order of
/// `codes`. Errors if the text is not a FeatureCollection, if a code is
/// missing or present twice, or if a pilot geometry is unusable.
pub(crate) fn read_regions(
    geojson: &str,
    codes: &[&str],
) -> Result<Vec<ParsedRegion>, GeofenceError> {
    let root: Value =
        serde_json::from_str(geojson).map_err(|e| GeofenceError::Json(e.to_string()))?;
    if root.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(GeofenceError::NotFeatureCollection);
    }
    let features = root
        .get("features")
        .and_then(Value::as_array)
        .ok_or(GeofenceError::NotFeatureCollection)?;

    let mut found: Vec<Option<ParsedRegion>> = codes.iter().map(|_| None).collect();
    for feature in features {
        let props = feature.get("properties");
        let Some(code) = props.and_then(|p| p.get("code")).and_then(Value::as_str) else {
            // Not a region this geofence could be configured with.
            continue;
        };
        let Some(slot) = codes.iter().position(|c| *c == code) else {
            continue;
        };
        if found[slot].is_some() {
            return Err(GeofenceError::DuplicateRegion(code.to_string()));
        }
        let name = |key: &str| {
            props
                .and_then(|p| p.get(key))
                .and_then(Value::as_str)
                .unwrap_or(code)
                .to_string()
        };
        let geometry = feature
            .get("geometry")
            .ok_or_else(|| bad(code, "feature has no geometry"))?;
        found[slot] = Some(ParsedRegion {
            name_en: name("name_en"),
            name_ru: name("name_ru"),
            shape: read_geometry(code, geometry)?,
        });
    }

    found
        .into_iter()
        .zip(codes)
        .map(|(region, code)| region.ok_or_else(|| GeofenceError::MissingRegion(code.to_string())))
        .collect()
}

fn bad(code: &str, reason: impl Into<String>) -> GeofenceError {
    GeofenceError::BadGeometry {
        code: code.to_string(),
        reason: reason.into(),
    }
}

fn read_geometry(code: &str, geometry: &Value) -> Result<MultiPolygon<f64>, GeofenceError> {
    let kind = geometry.get("type").and_then(Value::as_str);
    let coords = geometry
        .get("coordinates")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(code, "geometry has no coordinates array"))?;
    let polygons = match kind {
        Some("Polygon") => vec![read_polygon(code, coords)?],
        Some("MultiPolygon") => coords
            .iter()
            .map(|p| {
                p.as_array()
                    .ok_or_else(|| bad(code, "a polygon is not an array of rings"))
                    .and_then(|rings| read_polygon(code, rings))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err(bad(
                code,
                format!("geometry is a {other}, not a Polygon or MultiPolygon"),
            ))
        }
        None => return Err(bad(code, "geometry has no type")),
    };
    if polygons.is_empty() {
        return Err(bad(code, "MultiPolygon has no polygons"));
    }
    Ok(MultiPolygon(polygons))
}

fn read_polygon(code: &str, rings: &[Value]) -> Result<Polygon<f64>, GeofenceError> {
    let mut rings = rings
        .iter()
        .map(|r| read_ring(code, r))
        .collect::<Result<Vec<_>, _>>()?;
    if rings.is_empty() {
        return Err(bad(code, "polygon has no rings"));
    }
    let exterior = rings.remove(0);
    Ok(Polygon::new(exterior, rings))
}

fn read_ring(code: &str, ring: &Value) -> Result<LineString<f64>, GeofenceError> {
    let positions = ring
        .as_array()
        .ok_or_else(|| bad(code, "a ring is not an array of positions"))?;
    if positions.len() < 4 {
        return Err(bad(code, "a ring has fewer than 4 positions"));
    }
    let coords = positions
        .iter()
        .map(|p| read_position(code, p))
        .collect::<Result<Vec<_>, _>>()?;
    if coords.first() != coords.last() {
        return Err(bad(code, "a ring is not closed (first position != last)"));
    }
    Ok(LineString(coords))
}

fn read_position(code: &str, position: &Value) -> Result<Coord<f64>, GeofenceError> {
    let numbers = position.as_array().filter(|a| a.len() >= 2);
    let (Some(lon), Some(lat)) = (
        numbers.and_then(|a| a[0].as_f64()),
        numbers.and_then(|a| a[1].as_f64()),
    ) else {
        return Err(bad(
            code,
            format!("a position is not [lon, lat]: {position}"),
        ));
    };
    let in_range = lon.is_finite()
        && lat.is_finite()
        && (-180.0..=180.0).contains(&lon)
        && (-90.0..=90.0).contains(&lat);
    if !in_range {
        return Err(bad(code, format!("position out of range: [{lon}, {lat}]")));
    }
    Ok(Coord { x: lon, y: lat })
}
