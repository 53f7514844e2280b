//! Every validation failure is a 422 naming the failing field, and appends nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{application, enterprise_number, json_of, spawn_app};

/// `base` with `field` (dotted for nested fields) set to `value`, or removed for null
/// when `remove` is set.
fn with(base: &Value, field: &str, value: Value) -> Value {
    let mut body = base.clone();
    let mut target = &mut body;
    let mut parts = field.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            if value == json!("<absent>") {
                target.as_object_mut().unwrap().remove(part);
            } else {
                target[part] = value.clone();
            }
            break;
        }
        target = &mut target[part];
    }
    body
}

const ABSENT: &str = "<absent>";

#[tokio::test]
async fn every_invalid_field_of_every_command_is_422_naming_it_and_appends_nothing() {
    let app = spawn_app().await;
    let admitted = app.member_in("admitted").await;
    let base = application(&enterprise_number());
    let long = |n: usize| json!("x".repeat(n));

    // (method, path, body, the field named)
    let mut cases: Vec<(Method, String, Value, &str)> = Vec::new();
    let apply =
        |body: Value, field: &'static str| (Method::POST, "/v1/members".to_owned(), body, field);
    for (field, value, named) in [
        ("name", json!(ABSENT), "name"),
        ("name", json!("   "), "name"),
        ("name", long(201), "name"),
        ("name", json!("two\nlines"), "name"),
        ("name", json!(5), "name"),
        ("category", json!("cooperative"), "category"),
        ("category", json!(ABSENT), "category"),
        ("support_kind", json!("financial"), "support_kind"),
        ("domains", json!([]), "domains"),
        ("domains", json!(["composting"]), "domains"),
        ("domains", json!(["recycling", "recycling"]), "domains"),
        ("domains", json!(ABSENT), "domains"),
        (
            "enterprise_number",
            json!("0123.456.748"),
            "enterprise_number",
        ),
        ("enterprise_number", json!("012345674"), "enterprise_number"),
        (
            "enterprise_number",
            json!("2123456749"),
            "enterprise_number",
        ),
        (
            "enterprise_number",
            json!("0123-456-749"),
            "enterprise_number",
        ),
        ("enterprise_number", json!(ABSENT), "enterprise_number"),
        ("nace_code", json!("recycling"), "nace_code"),
        ("nace_code", json!(ABSENT), "nace_code"),
        ("size_band", json!("huge"), "size_band"),
        ("municipality", json!(ABSENT), "municipality"),
        ("municipality", long(101), "municipality"),
        ("website", json!("ftp://example.be"), "website"),
        ("offer_summary", long(1001), "offer_summary"),
        ("contact", json!(ABSENT), "contact"),
        ("contact.name", json!(ABSENT), "contact.name"),
        ("contact.email", json!("amina-at-example"), "contact.email"),
        ("contact.email", json!(ABSENT), "contact.email"),
        ("contact.phone", json!("call me"), "contact.phone"),
        ("at", json!("yesterday"), "at"),
        ("nickname", json!("Rdc"), "nickname"),
    ] {
        cases.push(apply(with(&base, field, value), named));
    }
    let mut support = with(&base, "category", json!("support"));
    support = with(&support, "support_kind", json!(ABSENT));
    cases.push(apply(support, "support_kind"));

    let member = |tail: &str| format!("/v1/members/{admitted}{tail}");
    for (body, named) in [
        (json!({"reason": "x".repeat(1001)}), "reason"),
        (json!({"at": "not a time"}), "at"),
        (json!({"at": "2017-01-01T00:00:00Z"}), "at"),
        (json!({"because": "no"}), "because"),
    ] {
        cases.push((Method::POST, member("/suspend"), body, named));
    }
    for (body, named) in [
        (json!({"name": null}), "name"),
        (json!({"category": "cooperative"}), "category"),
        (json!({"category": "support"}), "support_kind"),
        (json!({"domains": []}), "domains"),
        (
            json!({"enterprise_number": "0123.456.748"}),
            "enterprise_number",
        ),
        (json!({"website": "not a website"}), "website"),
        (json!({"size_band": null}), "size_band"),
        (
            json!({"at": "2017-01-01T00:00:00Z", "name": "Earlier"}),
            "at",
        ),
    ] {
        cases.push((Method::PATCH, member(""), body, named));
    }
    for (body, named) in [
        (json!({"description": "Repairs."}), "title"),
        (json!({"title": "Repair"}), "description"),
        (json!({"title": "", "description": "Repairs."}), "title"),
    ] {
        cases.push((Method::POST, member("/offers"), body, named));
    }
    for (body, named) in [
        (json!({"topic": "t", "hours": 1}), "advisor"),
        (json!({"advisor": "a", "hours": 1}), "topic"),
        (json!({"advisor": "a", "topic": "t"}), "hours"),
        (json!({"advisor": "a", "topic": "t", "hours": 0}), "hours"),
        (
            json!({"advisor": "a", "topic": "t", "hours": -1.5}),
            "hours",
        ),
        (json!({"advisor": "a", "topic": "t", "hours": 25}), "hours"),
        (
            json!({"advisor": "a", "topic": "t", "hours": "two"}),
            "hours",
        ),
    ] {
        cases.push((Method::POST, member("/accompaniments"), body, named));
    }

    let head = app.head();
    for (method, path, body, named) in cases {
        let response = app
            .coordinator(method.clone(), &path)
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, problem) = json_of(response).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {path} {body}: {problem}"
        );
        assert_eq!(problem["code"], "validation_failed", "{problem}");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|error| error["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.contains(&named),
            "{method} {path} {body}: {named} is not among {fields:?}"
        );
        assert_eq!(app.head(), head, "{method} {path} {body} appended");
    }
    app.stop().await;
}

#[tokio::test]
async fn all_failing_fields_are_named_at_once_without_repeating_personal_values() {
    let app = spawn_app().await;
    let body = json!({
        "name": "",
        "category": "support",
        "domains": [],
        "enterprise_number": "0123.456.748",
        "nace_code": "38.32",
        "size_band": "small",
        "municipality": "Anderlecht",
        "contact": {"name": "Amina", "email": "amina-at-ressourcerie", "phone": "call 555 me"},
    });
    let (status, problem) =
        json_of(app.post("/v1/members").json(&body).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = problem["errors"].as_array().unwrap();
    let fields: Vec<&str> = errors
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in [
        "name",
        "support_kind",
        "domains",
        "enterprise_number",
        "contact.email",
        "contact.phone",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    assert!(errors.iter().all(|e| e["code"].is_string()), "{problem}");
    let text = problem.to_string();
    assert!(!text.contains("amina-at-ressourcerie") && !text.contains("call 555 me"));

    // A personal value of the wrong JSON type is not repeated either.
    let mut body = application(&enterprise_number());
    body["contact"]["phone"] = json!(3_225_550_123_u64);
    let (status, problem) =
        json_of(app.post("/v1/members").json(&body).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "contact.phone");
    assert!(!problem.to_string().contains("3225550123"), "{problem}");
    assert_eq!(app.head().0, 0);
    app.stop().await;
}
