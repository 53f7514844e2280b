//! Who may register is what MEMBERSHIP says, as it arrives over the bus: admitted
//! members only; applicants, rejected, suspended and withdrawn members, and members the
//! service has never heard of, are refused with 409 `member_not_eligible`.

use circlemade_contracts::membership::{MemberId, MemberStatus};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

/// Registers `member`, expecting the refusal of a member in `status`; nothing written.
async fn refused(app: &TestApp, activity: uuid::Uuid, member: MemberId, status: Option<&str>) {
    let head = app.head();
    let (code, problem) = app.register(activity, member).await;
    assert_eq!(code, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "member_not_eligible");
    assert_eq!(problem["member_id"], json!(member));
    assert_eq!(problem["member_status"], json!(status));
    assert_eq!(app.head(), head, "a refused registration wrote");
}

#[tokio::test]
async fn a_member_admitted_in_membership_registers_once_its_admission_has_arrived() {
    let app = spawn_app().await;
    let activity = app.open_activity(10).await;
    let member = app.membership.applied().await;
    app.knows(member, MemberStatus::Applied).await;
    refused(&app, activity, member, Some("applied")).await;

    app.membership.transition(member, "admit").await;
    // The admission reaches the events service over the bus, never over HTTP.
    app.knows(member, MemberStatus::Admitted).await;
    assert_eq!(app.registered(activity, member).await, "registered");
    app.shut_down().await;
}

#[tokio::test]
async fn unknown_rejected_suspended_and_withdrawn_members_are_refused_and_a_reinstated_one_is_not()
{
    let app = spawn_app().await;
    let activity = app.open_activity(10).await;
    refused(&app, activity, MemberId::new(), None).await;

    let rejected = app.membership.applied().await;
    app.membership.transition(rejected, "reject").await;
    app.knows(rejected, MemberStatus::Rejected).await;
    refused(&app, activity, rejected, Some("rejected")).await;

    let suspended = app.admitted().await;
    app.membership.transition(suspended, "suspend").await;
    app.knows(suspended, MemberStatus::Suspended).await;
    refused(&app, activity, suspended, Some("suspended")).await;

    let withdrawn = app.admitted().await;
    app.membership.transition(withdrawn, "withdraw").await;
    app.knows(withdrawn, MemberStatus::Withdrawn).await;
    refused(&app, activity, withdrawn, Some("withdrawn")).await;

    app.membership.transition(suspended, "reinstate").await;
    app.knows(suspended, MemberStatus::Admitted).await;
    assert_eq!(app.registered(activity, suspended).await, "registered");
    app.shut_down().await;
}
