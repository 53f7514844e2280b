//! The Belgian enterprise number over HTTP: the spellings accepted, those refused, and
//! its uniqueness among members that are neither rejected nor withdrawn. (The mod-97
//! checksum itself has its property test in the domain: `enterprise_number.rs`.)

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{application, json_of, spawn_app, valid_enterprise_number};

#[tokio::test]
async fn valid_spellings_are_accepted_and_stored_normalised() {
    let app = spawn_app().await;
    for (spelling, stored) in [
        ("0123.456.749", "0123456749"),
        ("0202239951", "0202239951"),
        ("BE 0403.170.701", "0403170701"),
        (" 1000 000 021 ", "1000000021"),
    ] {
        let answer = app.apply_with(&application(spelling)).await;
        let position = answer["position"].as_u64().unwrap();
        let path = format!(
            "/v1/members/{}?min_position={position}",
            answer["id"].as_str().unwrap()
        );
        let (_, view) = json_of(app.get(&path).send().await.unwrap()).await;
        assert_eq!(view["enterprise_number"], stored, "{spelling}");
    }
    app.stop().await;
}

#[tokio::test]
async fn invalid_numbers_are_refused_naming_the_field() {
    let app = spawn_app().await;
    for (number, code) in [
        ("0123.456.748", "wrong_check_digits"),
        ("0123.456.74", "wrong_length"),
        ("01234567490", "wrong_length"),
        ("2123456749", "wrong_first_digit"),
        ("0123A56749", "not_a_digit"),
        ("", "wrong_length"),
    ] {
        let (status, problem) = json_of(
            app.post("/v1/members")
                .json(&application(number))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{number}: {problem}"
        );
        let error = &problem["errors"][0];
        assert_eq!(error["field"], "enterprise_number", "{number}");
        assert_eq!(error["code"], code, "{number}: {problem}");
    }
    assert_eq!(app.head().0, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_number_held_by_a_member_is_refused_to_another_until_it_is_freed() {
    let app = spawn_app().await;
    let number = valid_enterprise_number(4_242);
    let first = app.apply_with(&application(&number)).await;
    let first_id = first["id"].as_str().unwrap().to_owned();

    // Another spelling of the same number.
    let dotted = format!("{}.{}.{}", &number[..4], &number[4..7], &number[7..]);
    let head = app.head();
    let (status, problem) = json_of(
        app.post("/v1/members")
            .json(&application(&dotted))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "duplicate_enterprise_number");
    assert_eq!(problem["existing_member"], first_id);
    assert_eq!(app.head(), head);

    // A profile update may not take it either.
    let other = app.applied().await;
    let (status, problem) = json_of(
        app.coordinator(Method::PATCH, &format!("/v1/members/{other}"))
            .json(&json!({"enterprise_number": number}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, problem["code"].clone()),
        (StatusCode::CONFLICT, json!("duplicate_enterprise_number"))
    );

    // Its holder may keep it in an update.
    let (status, _) = json_of(
        app.coordinator(Method::PATCH, &format!("/v1/members/{first_id}"))
            .json(&json!({"enterprise_number": dotted}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Rejected, the first member frees it.
    app.transition(first_id.parse().unwrap(), "reject").await;
    app.apply_with(&application(&dotted)).await;
    app.stop().await;
}

#[tokio::test]
async fn a_withdrawn_member_frees_its_number_and_a_suspended_one_keeps_it() {
    let app = spawn_app().await;
    let number = valid_enterprise_number(777);
    let answer = app.apply_with(&application(&number)).await;
    let member = answer["id"].as_str().unwrap().parse().unwrap();
    app.transition(member, "admit").await;
    app.transition(member, "suspend").await;
    let response = app
        .post("/v1/members")
        .json(&application(&number))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    app.transition(member, "withdraw").await;
    app.apply_with(&application(&number)).await;
    app.stop().await;
}
