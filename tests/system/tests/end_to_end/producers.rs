//! The producers' own views of what the programme did: members and their personal
//! data in membership, activities and the reaction to a suspension in events.

use circlemade_system_tests::System;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::programme::{APPLICANTS, ERASED, Programme, call, get, member_ids, on};

pub(crate) async fn check_producers(system: &System, programme: &Programme) {
    let (membership, events) = (&system.membership, &system.events);
    let m = |n: usize| programme.m(n);

    let admitted = get(membership, "/v1/members?status=admitted").await;
    let ids: Vec<&str> = admitted["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|member| member["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [m(1), m(2), m(3), m(4), m(5), m(8)], "{admitted}");
    let m2 = get(membership, &format!("/v1/members/{}", m(2))).await;
    assert_eq!(m2["domains"], json!(["eco_design", "prevention"]), "{m2}");
    let m5 = get(membership, &format!("/v1/members/{}", m(5))).await;
    assert_eq!(m5["status"], "admitted", "{m5}");
    assert_eq!(m5["status_changed_at"], on("11-15"), "{m5}");
    let m6 = get(membership, &format!("/v1/members/{}", m(6))).await;
    assert_eq!(
        (&m6["status"], &m6["offers"]),
        (&json!("withdrawn"), &json!([])),
        "{m6}"
    );
    let m7 = get(membership, &format!("/v1/members/{}", m(7))).await;
    assert_eq!(m7["status"], "rejected", "{m7}");
    assert_eq!(m7["personal_data_erased"], true, "{m7}");
    assert!(
        !m7.to_string().contains(APPLICANTS[ERASED].contact[0]),
        "a view shows personal data: {m7}"
    );
    let gone = call(
        membership,
        Method::GET,
        &format!("/v1/members/{}/personal-data", m(7)),
        None,
        StatusCode::GONE,
    )
    .await;
    assert_eq!(gone["code"], "personal_data_erased", "{gone}");
    let kept = get(membership, &format!("/v1/members/{}/personal-data", m(1))).await;
    assert_eq!(kept["contact"]["email"], APPLICANTS[0].contact[1], "{kept}");

    let list = get(events, "/v1/activities?year=2018").await;
    let ids: Vec<&str> = list["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|activity| activity["id"].as_str().unwrap())
        .collect();
    let expected = [
        &programme.a1,
        &programme.a2,
        &programme.a4,
        &programme.a6,
        &programme.a3,
        &programme.a5,
    ];
    assert_eq!(ids, expected, "in the order they were scheduled");

    let a1 = get(events, &format!("/v1/activities/{}", programme.a1)).await;
    assert_eq!(a1["status"], "completed", "{a1}");
    // m6 withdrew after A1 was completed, which keeps its registrations.
    assert_eq!(member_ids(&a1, "registrations"), [m(1), m(3), m(6)], "{a1}");
    assert_eq!(a1["sessions"][0]["attended"], json!([m(1), m(6)]), "{a1}");
    let a2 = get(events, &format!("/v1/activities/{}", programme.a2)).await;
    assert_eq!(member_ids(&a2, "registrations"), [m(2), m(4)], "{a2}");
    let a3 = get(events, &format!("/v1/activities/{}", programme.a3)).await;
    assert_eq!(a3["status"], "registration_open", "{a3}");
    assert_eq!(member_ids(&a3, "registrations"), [m(8), m(1)], "{a3}");
    assert_eq!(member_ids(&a3, "waitlist"), [m(2)], "{a3}");
    assert_eq!(a3["sessions"][0]["attended"], json!([m(8), m(1)]), "{a3}");
    assert_eq!(a3["sessions"][1]["cancelled"], true, "{a3}");
    let a4 = get(events, &format!("/v1/activities/{}", programme.a4)).await;
    let starts: Vec<&Value> = a4["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|session| &session["start"])
        .collect();
    assert_eq!(
        starts,
        [
            "2018-07-03T09:00:00Z",
            "2018-07-10T09:00:00Z",
            "2018-07-24T09:00:00Z",
            "2018-09-18T09:00:00Z"
        ],
        "{a4}"
    );
    assert_eq!(a4["outcomes"].as_array().unwrap().len(), 2, "{a4}");
    let a5 = get(events, &format!("/v1/activities/{}", programme.a5)).await;
    assert_eq!(a5["status"], "cancelled", "{a5}");

    // The reaction to m5's suspension: caused by the membership event, at its time.
    let suspended = get(membership, &format!("/v1/members/{}/history", m(5))).await;
    let suspended = suspended
        .as_array()
        .unwrap()
        .iter()
        .find(|event| {
            event["type"]
                .as_str()
                .unwrap()
                .ends_with(".member.suspended.v1")
        })
        .unwrap()
        .clone();
    let history = get(events, &format!("/v1/activities/{}/history", programme.a3)).await;
    let reaction: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["causationid"] == suspended["id"])
        .collect();
    let types: Vec<&str> = reaction
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "brussels.circlemade.events.activity.registration_cancelled.v1",
            "brussels.circlemade.events.activity.waitlist_promoted.v1",
        ],
        "{history}"
    );
    assert_eq!(reaction[0]["data"]["member_id"], m(5));
    assert_eq!(reaction[0]["data"]["reason"], "member_suspended");
    assert_eq!(reaction[1]["data"]["member_id"], m(1));
    assert_eq!(reaction[0]["time"], suspended["time"]);
}
