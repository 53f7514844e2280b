//! The programme of the module docs, through the public HTTP APIs of membership and
//! events, in an order the services accept: the events service learns the members
//! before they register, and registrations come before the departures that cancel
//! them.

use circlemade_bus::harness::eventually;
use circlemade_system_tests::{DEADLINE, ServiceProcess, System};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// 09:00 UTC on `day` ("MM-DD") of 2018.
pub(crate) fn on(day: &str) -> String {
    format!("2018-{day}T09:00:00Z")
}

/// Sends `body` (if any) as the coordinator and expects `status`; the JSON answer.
pub(crate) async fn call(
    service: &ServiceProcess,
    method: Method,
    path: &str,
    body: Option<Value>,
    status: StatusCode,
) -> Value {
    let mut request = service.coordinator(method.clone(), path);
    if let Some(body) = &body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let got = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(
        got,
        status,
        "{method} {path} {}: {text}",
        body.unwrap_or_default()
    );
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"))
}

async fn post(service: &ServiceProcess, path: &str, body: Value) -> Value {
    call(service, Method::POST, path, Some(body), StatusCode::OK).await
}

async fn create(service: &ServiceProcess, path: &str, body: Value) -> Value {
    call(service, Method::POST, path, Some(body), StatusCode::CREATED).await
}

pub(crate) async fn get(service: &ServiceProcess, path: &str) -> Value {
    call(service, Method::GET, path, None, StatusCode::OK).await
}

fn id_of(answer: &Value) -> String {
    answer["id"].as_str().unwrap().to_owned()
}

/// An applicant organisation, with its contact person (personal data).
pub(crate) struct Applicant {
    pub(crate) name: &'static str,
    category: &'static str,
    support_kind: Option<&'static str>,
    domains: &'static [&'static str],
    nace_code: &'static str,
    size_band: &'static str,
    municipality: &'static str,
    pub(crate) contact: [&'static str; 3],
    applied: &'static str,
}

/// m1 to m8 of the module docs; every organisation and person is made up.
pub(crate) const APPLICANTS: [Applicant; 8] = [
    Applicant {
        name: "Recyclerie des Marolles",
        category: "company",
        support_kind: None,
        domains: &["repair_reuse", "recycling"],
        nace_code: "38.32",
        size_band: "small",
        municipality: "Bruxelles",
        contact: [
            "Ines Verhaegen",
            "ines@recyclerie-marolles.example",
            "+32 2 555 10 01",
        ],
        applied: "01-15",
    },
    Applicant {
        name: "Institut Quatre-Saisons",
        category: "academic",
        support_kind: None,
        domains: &["eco_design"],
        nace_code: "72.19",
        size_band: "medium",
        municipality: "Ixelles",
        contact: [
            "Pieter Claeys",
            "p.claeys@quatre-saisons.example",
            "+32 2 555 10 02",
        ],
        applied: "01-20",
    },
    Applicant {
        name: "Agence des Ressources Urbaines",
        category: "institutional",
        support_kind: None,
        domains: &["prevention", "recycling"],
        nace_code: "84.13",
        size_band: "large",
        municipality: "Saint-Josse-ten-Noode",
        contact: [
            "Nadia Benali",
            "n.benali@ressources-urbaines.example",
            "+32 2 555 10 03",
        ],
        applied: "02-10",
    },
    Applicant {
        name: "Fonds Boucle Verte",
        category: "support",
        support_kind: Some("financial"),
        domains: &["industrial_ecology"],
        nace_code: "64.30",
        size_band: "micro",
        municipality: "Etterbeek",
        contact: [
            "Luc Dardenne",
            "luc@boucle-verte.example",
            "+32 2 555 10 04",
        ],
        applied: "03-05",
    },
    Applicant {
        name: "Chaleur Fatale",
        category: "company",
        support_kind: None,
        domains: &["energy_recovery"],
        nace_code: "35.30",
        size_band: "medium",
        municipality: "Anderlecht",
        contact: [
            "Sofie Maes",
            "sofie.maes@chaleur-fatale.example",
            "+32 2 555 10 05",
        ],
        applied: "03-10",
    },
    Applicant {
        name: "Menuiserie Seconde Vie",
        category: "company",
        support_kind: None,
        domains: &["repair_reuse"],
        nace_code: "16.23",
        size_band: "micro",
        municipality: "Forest",
        contact: [
            "Youssef Amrani",
            "youssef@seconde-vie.example",
            "+32 2 555 10 06",
        ],
        applied: "04-10",
    },
    Applicant {
        name: "Atelier Lumen",
        category: "academic",
        support_kind: None,
        domains: &["eco_design"],
        nace_code: "85.42",
        size_band: "small",
        municipality: "Uccle",
        contact: [
            "Hortense Vandeputte-Oosterlinck",
            "hortense.vandeputte@atelier-lumen.example",
            "+32 2 555 48 17",
        ],
        applied: "05-01",
    },
    Applicant {
        name: "Canal Medias Circulaires",
        category: "support",
        support_kind: Some("communication"),
        domains: &["repair_reuse", "eco_design"],
        nace_code: "73.11",
        size_band: "small",
        municipality: "Molenbeek-Saint-Jean",
        contact: [
            "Bram Wouters",
            "bram@canal-medias.example",
            "+32 2 555 10 08",
        ],
        applied: "08-01",
    },
];

/// The index of the applicant whose personal data is erased (m7).
pub(crate) const ERASED: usize = 6;

/// The valid enterprise number whose first eight digits are `0` and `n` in 7 digits.
fn enterprise_number(n: u32) -> String {
    format!("0{n:07}{:02}", 97 - n % 97)
}

impl Applicant {
    fn application(&self, n: u32) -> Value {
        let mut body = json!({
            "name": self.name,
            "category": self.category,
            "domains": self.domains,
            "enterprise_number": enterprise_number(4_180_000 + n),
            "nace_code": self.nace_code,
            "size_band": self.size_band,
            "municipality": self.municipality,
            "offer_summary": "Circular products and services for Brussels.",
            "contact": {
                "name": self.contact[0],
                "email": self.contact[1],
                "phone": self.contact[2],
            },
            "at": on(self.applied),
        });
        if let Some(kind) = self.support_kind {
            body["support_kind"] = json!(kind);
        }
        body
    }
}

/// The ids the programme creates.
pub(crate) struct Programme {
    /// m1 to m8, at 0 to 7.
    pub(crate) members: Vec<String>,
    pub(crate) a1: String,
    pub(crate) a2: String,
    pub(crate) a3: String,
    pub(crate) a4: String,
    pub(crate) a5: String,
    pub(crate) a6: String,
}

impl Programme {
    /// The id of member `n` (1 to 8).
    pub(crate) fn m(&self, n: usize) -> &str {
        &self.members[n - 1]
    }
}

/// Phase 1, membership: every application and every member fact that changes nothing
/// for the events service's registrations.
async fn members(membership: &ServiceProcess) -> Vec<String> {
    let mut ids = Vec::new();
    for (n, applicant) in (1..).zip(&APPLICANTS) {
        let answer = create(membership, "/v1/members", applicant.application(n)).await;
        assert_eq!(answer["status"], "applied", "{answer}");
        ids.push(id_of(&answer));
    }
    let member = |n: usize| format!("/v1/members/{}", ids[n - 1]);
    for (n, day) in [
        (1, "02-01"),
        (2, "02-01"),
        (3, "03-01"),
        (4, "04-02"),
        (5, "04-02"),
        (6, "05-02"),
        (8, "09-03"),
    ] {
        let answer = post(
            membership,
            &format!("{}/admit", member(n)),
            json!({"at": on(day)}),
        )
        .await;
        assert_eq!(answer["status"], "admitted", "{answer}");
    }
    post(
        membership,
        &format!("{}/reject", member(7)),
        json!({"at": on("05-20"), "reason": "Outside the Brussels-Capital Region."}),
    )
    .await;
    call(
        membership,
        Method::PATCH,
        &member(2),
        Some(json!({"domains": ["eco_design", "prevention"], "at": on("09-01")})),
        StatusCode::OK,
    )
    .await;
    create(
        membership,
        &format!("{}/offers", member(6)),
        json!({"title": "Reclaimed oak shelving", "description": "Made to measure from reclaimed beams.", "at": on("05-10")}),
    )
    .await;
    post(
        membership,
        &format!("{}/accompaniments", member(8)),
        json!({"at": on("10-10"), "advisor": "circular communication advisor",
               "topic": "A campaign for repair cafes", "hours": 3.5}),
    )
    .await;
    let erased = call(
        membership,
        Method::DELETE,
        &format!("{}/personal-data", member(7)),
        Some(json!({"at": on("06-01")})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(erased["personal_data_erased"], true, "{erased}");
    ids
}

/// Schedules an activity of 2018; its id and its sessions' ids.
async fn schedule(
    events: &ServiceProcess,
    kind: &str,
    title: &str,
    capacity: u32,
    sessions: &[(&str, &str)],
    day: &str,
) -> (String, Vec<String>) {
    let sessions: Vec<Value> = sessions
        .iter()
        .map(|(start, end)| json!({"start": start, "end": end, "location": "hub.brussels"}))
        .collect();
    let answer = create(
        events,
        "/v1/activities",
        json!({"kind": kind, "title": title, "theme": "The circular economy in Brussels",
               "year": 2018, "capacity": capacity, "sessions": sessions, "at": on(day)}),
    )
    .await;
    assert_eq!(answer["status"], "scheduled", "{answer}");
    let sessions = answer["session_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    (id_of(&answer), sessions)
}

/// Registers `member` on `day`, expecting `status` (`registered` or `waitlisted`).
async fn register(events: &ServiceProcess, activity: &str, member: &str, day: &str, status: &str) {
    let answer = create(
        events,
        &format!("/v1/activities/{activity}/registrations"),
        json!({"member_id": member, "at": on(day)}),
    )
    .await;
    assert_eq!(answer["status"], status, "{member} in {activity}: {answer}");
}

async fn attended(
    events: &ServiceProcess,
    activity: &str,
    session: &str,
    members: &[&str],
    at: &str,
) {
    post(
        events,
        &format!("/v1/activities/{activity}/sessions/{session}/attendance"),
        json!({"member_ids": members, "at": at}),
    )
    .await;
}

async fn outcome(
    events: &ServiceProcess,
    activity: &str,
    kind: &str,
    members: &[&str],
    jobs: u32,
    day: &str,
) {
    create(
        events,
        &format!("/v1/activities/{activity}/outcomes"),
        json!({"kind": kind, "member_ids": members, "jobs_created": jobs,
               "description": "Came out of the activity.", "at": on(day)}),
    )
    .await;
}

async fn lifecycle(events: &ServiceProcess, activity: &str, command: &str, day: &str) {
    post(
        events,
        &format!("/v1/activities/{activity}/{command}"),
        json!({"at": on(day)}),
    )
    .await;
}

/// The member ids of a list (`registrations` or `waitlist`) of an activity view.
pub(crate) fn member_ids(view: &Value, list: &str) -> Vec<String> {
    view[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|place| place["member_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Everything of the programme, through the HTTP APIs, in an order the services
/// accept: registrations before the departures that cancel them.
pub(crate) async fn run_programme(system: &System) -> Programme {
    let (membership, events) = (&system.membership, &system.events);

    // Phase 1: the members; the events service must know them before they register.
    let members = members(membership).await;
    let published = membership.log_head().await.unwrap();
    eventually(DEADLINE, || async {
        let head = events.log_head().await?;
        anyhow::ensure!(head == published, "events imported {head} of {published}");
        Ok(())
    })
    .await
    .unwrap_or_else(|error| panic!("{error}\n{}", system.tails(20)));
    let m = |n: usize| members[n - 1].as_str();

    // Phase 2: activities, up to the departures.
    let (a1, a1_sessions) = schedule(
        events,
        "meeting",
        "Touring visit of circular sites",
        10,
        &[("2018-05-23T10:00:00Z", "2018-05-23T12:00:00Z")],
        "04-15",
    )
    .await;
    lifecycle(events, &a1, "open-registration", "04-20").await;
    register(events, &a1, m(1), "04-25", "registered").await;
    register(events, &a1, m(3), "04-26", "registered").await;
    register(events, &a1, m(6), "05-03", "registered").await;
    attended(
        events,
        &a1,
        &a1_sessions[0],
        &[m(1), m(6)],
        "2018-05-23T12:00:00Z",
    )
    .await;
    lifecycle(events, &a1, "complete", "05-24").await;
    outcome(events, &a1, "partnership", &[m(1), m(6)], 1, "05-30").await;

    let (a2, a2_sessions) = schedule(
        events,
        "training",
        "Eco-design basics",
        2,
        &[
            ("2018-06-12T09:00:00Z", "2018-06-12T12:00:00Z"),
            ("2018-06-19T09:00:00Z", "2018-06-19T12:00:00Z"),
        ],
        "05-15",
    )
    .await;
    lifecycle(events, &a2, "open-registration", "05-20").await;
    register(events, &a2, m(2), "05-25", "registered").await;
    register(events, &a2, m(6), "05-26", "registered").await;
    register(events, &a2, m(4), "05-27", "waitlisted").await;
    let cancelled = call(
        events,
        Method::DELETE,
        &format!("/v1/activities/{a2}/registrations/{}", m(6)),
        Some(json!({"at": on("06-05")})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(cancelled["promoted"], m(4), "{cancelled}");
    attended(
        events,
        &a2,
        &a2_sessions[0],
        &[m(2), m(4)],
        "2018-06-12T12:00:00Z",
    )
    .await;
    attended(
        events,
        &a2,
        &a2_sessions[1],
        &[m(2)],
        "2018-06-19T12:00:00Z",
    )
    .await;
    lifecycle(events, &a2, "complete", "06-20").await;

    let (a4, a4_sessions) = schedule(
        events,
        "collective_accompaniment",
        "Circular business models",
        5,
        &[
            ("2018-07-03T09:00:00Z", "2018-07-03T12:00:00Z"),
            ("2018-07-10T09:00:00Z", "2018-07-10T12:00:00Z"),
            ("2018-07-17T09:00:00Z", "2018-07-17T12:00:00Z"),
        ],
        "06-15",
    )
    .await;
    lifecycle(events, &a4, "open-registration", "06-16").await;
    register(events, &a4, m(3), "06-20", "registered").await;
    register(events, &a4, m(4), "06-21", "registered").await;
    call(
        events,
        Method::PUT,
        &format!("/v1/activities/{a4}/sessions/{}", a4_sessions[2]),
        Some(
            json!({"start": "2018-07-24T09:00:00Z", "end": "2018-07-24T12:00:00Z",
                    "location": "hub.brussels", "at": on("07-01")}),
        ),
        StatusCode::OK,
    )
    .await;
    attended(
        events,
        &a4,
        &a4_sessions[0],
        &[m(3), m(4)],
        "2018-07-03T12:00:00Z",
    )
    .await;
    attended(
        events,
        &a4,
        &a4_sessions[1],
        &[m(3)],
        "2018-07-10T12:00:00Z",
    )
    .await;
    create(
        events,
        &format!("/v1/activities/{a4}/sessions"),
        json!({"start": "2018-09-18T09:00:00Z", "end": "2018-09-18T12:00:00Z",
               "location": "hub.brussels", "at": on("09-01")}),
    )
    .await;
    outcome(
        events,
        &a4,
        "multi_actor_project",
        &[m(2), m(3), m(4)],
        3,
        "09-20",
    )
    .await;

    let (a6, _) = schedule(
        events,
        "promotion",
        "Circular week campaign",
        500,
        &[("2018-10-15T09:00:00Z", "2018-10-15T17:00:00Z")],
        "08-20",
    )
    .await;

    let (a3, a3_sessions) = schedule(
        events,
        "training",
        "Repair cafes for companies",
        2,
        &[
            ("2018-10-09T09:00:00Z", "2018-10-09T12:00:00Z"),
            ("2018-10-16T09:00:00Z", "2018-10-16T12:00:00Z"),
        ],
        "09-05",
    )
    .await;
    lifecycle(events, &a3, "open-registration", "09-06").await;
    register(events, &a3, m(5), "09-10", "registered").await;
    register(events, &a3, m(8), "09-12", "registered").await;
    register(events, &a3, m(1), "09-13", "waitlisted").await;
    register(events, &a3, m(2), "09-14", "waitlisted").await;

    // Phase 3: departures. m6's only place is in a completed activity, which keeps
    // it; m5's suspension cancels its place in A3 and promotes m1, by the events
    // service's own events.
    let withdrawn = post(
        membership,
        &format!("/v1/members/{}/withdraw", m(6)),
        json!({"at": on("07-15"), "reason": "Ceased trading."}),
    )
    .await;
    assert_eq!(withdrawn["status"], "withdrawn", "{withdrawn}");
    post(
        membership,
        &format!("/v1/members/{}/suspend", m(5)),
        json!({"at": on("10-01"), "reason": "Membership fee unpaid."}),
    )
    .await;
    eventually(DEADLINE, || async {
        let view: Value = events
            .analyst(Method::GET, &format!("/v1/activities/{a3}"))
            .send()
            .await?
            .json()
            .await?;
        let (places, waiting) = (
            member_ids(&view, "registrations"),
            member_ids(&view, "waitlist"),
        );
        anyhow::ensure!(
            places == [m(8), m(1)] && waiting == [m(2)],
            "A3 holds {places:?}, waiting {waiting:?}"
        );
        Ok(())
    })
    .await
    .unwrap_or_else(|error| panic!("{error}\n{}", system.tails(20)));

    // Phase 4: what follows the suspension.
    attended(
        events,
        &a3,
        &a3_sessions[0],
        &[m(8), m(1)],
        "2018-10-09T12:00:00Z",
    )
    .await;
    post(
        events,
        &format!("/v1/activities/{a3}/sessions/{}/cancel", a3_sessions[1]),
        json!({"at": on("10-12"), "reason": "The trainer is ill."}),
    )
    .await;
    let (a5, _) = schedule(
        events,
        "working_group",
        "Reuse of construction materials",
        20,
        &[("2018-11-06T09:00:00Z", "2018-11-06T12:00:00Z")],
        "10-20",
    )
    .await;
    post(
        events,
        &format!("/v1/activities/{a5}/cancel"),
        json!({"at": on("10-30"), "reason": "Merged into another working group."}),
    )
    .await;
    let reinstated = post(
        membership,
        &format!("/v1/members/{}/reinstate", m(5)),
        json!({"at": on("11-15")}),
    )
    .await;
    assert_eq!(reinstated["status"], "admitted", "{reinstated}");
    outcome(events, &a4, "value_chain", &[m(5), m(8)], 2, "11-20").await;

    Programme {
        members,
        a1,
        a2,
        a3,
        a4,
        a5,
        a6,
    }
}
