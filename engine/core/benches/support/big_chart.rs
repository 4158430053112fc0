//! The scale chart: one patient and `n` blood-pressure readings spread over ten years. Shared by
//! the criterion `scale` bench and `examples/chart_scale.rs`, so both measure the same chart.

use serde_json::json;

pub fn big_chart(n: usize) -> serde_json::Value {
    let mut entries = vec![json!({"resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1960-02-03"}})];
    for i in 0..n {
        let day = (i * 7919) % 3650;
        entries.push(json!({"resource": {"resourceType": "Observation", "id": format!("o{i}"), "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "effectiveDateTime": format!("{}-{:02}-{:02}", 2015 + day / 365, 1 + (day % 365) / 31, 1 + day % 28),
            "subject": {"reference": "Patient/p1"}, "valueQuantity": {"value": 120 + (i % 40), "unit": "mm[Hg]"}}}));
    }
    json!({"resourceType": "Bundle", "type": "collection", "entry": entries})
}
