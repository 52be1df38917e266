//! Answers carrying what the vendor added after this client was generated
//! still decode: a value added to an answer's enum reads as the enum's
//! `Unknown` variant, keeping the text (regen's `open_enums.rs`).

use serde_json::json;
use wiremock::ResponseTemplate;
use xoxoday_reward_points::Secret;
use xoxoday_reward_points::types::{RefreshTokenBody, TokenResponseTokenType};

use crate::support::{
    CLIENT_SECRET, NEW_ACCESS, NEW_REFRESH, REFRESH_PATH, answering_everything, requests_to,
    static_client, within,
};

#[tokio::test]
async fn a_token_type_this_build_does_not_know_decodes_as_unknown() {
    within(async {
        let vendor = answering_everything(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": NEW_ACCESS,
            "token_type": "mac",
            "expires_in": 1296000,
            "refresh_token": NEW_REFRESH
        })))
        .await;
        let client = static_client(&vendor.uri());
        let body = RefreshTokenBody::new(
            Secret::new("a-refresh-token"),
            "your_client_id",
            Secret::new(CLIENT_SECRET),
        );

        let answer = client.refresh_token().body(body).send().await.unwrap();

        assert_eq!(
            answer.token_type,
            Some(TokenResponseTokenType::Unknown("mac".into()))
        );
        assert_eq!(answer.token_type.as_ref().unwrap().to_string(), "mac");
        assert_eq!(requests_to(&vendor, REFRESH_PATH).await.len(), 1);
    })
    .await
}

#[test]
fn a_known_token_type_decodes_as_its_variant_and_an_unknown_one_is_not_parsed_from_text() {
    let known: TokenResponseTokenType = serde_json::from_value(json!("bearer")).unwrap();
    assert_eq!(known, TokenResponseTokenType::Bearer);
    assert_eq!(serde_json::to_value(&known).unwrap(), json!("bearer"));
    // Callers build values from text only among the documented ones.
    assert!("mac".parse::<TokenResponseTokenType>().is_err());
}
