//! One certificate order, start to finish (RFC 8555 section 7): open the
//! order, answer each name's challenge, finalize with a fresh key, fetch
//! the chain.

use super::certs::{Answers, Certs};
use super::{AcmeError, Challenge};
use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewOrder, OrderStatus, RetryPolicy,
};
use std::future::Future;
use std::time::Duration;

/// The chain and its key, PEM, ready for the store. `publish` hands the
/// answers to every node before the directory is told to check them (a
/// load balancer may send the validator to any node).
pub async fn order<P, F>(
    account: &Account,
    domains: &[String],
    challenge: Challenge,
    certs: &Certs,
    publish: P,
) -> Result<Vec<u8>, AcmeError>
where
    P: Fn(Answers) -> F,
    F: Future<Output = Result<(), AcmeError>>,
{
    let result = answer_and_finalize(account, domains, challenge, certs, &publish).await;
    certs.set_answers(&Answers::default());
    let cleared = publish(Answers::default()).await;
    let pem = result?;
    cleared?;
    Ok(pem)
}

async fn answer_and_finalize<P, F>(
    account: &Account,
    domains: &[String],
    challenge: Challenge,
    certs: &Certs,
    publish: &P,
) -> Result<Vec<u8>, AcmeError>
where
    P: Fn(Answers) -> F,
    F: Future<Output = Result<(), AcmeError>>,
{
    let kind = match challenge {
        Challenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
        Challenge::Http01 => ChallengeType::Http01,
    };
    let identifiers: Vec<Identifier> = domains.iter().cloned().map(Identifier::Dns).collect();
    let mut order = account.new_order(&NewOrder::new(&identifiers)).await?;

    // First every answer, so all nodes hold them before any is checked.
    let mut answers = Answers::default();
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz?;
        match authz.status {
            AuthorizationStatus::Pending => {}
            // Still valid from an earlier order: nothing to prove.
            AuthorizationStatus::Valid => continue,
            other => {
                return Err(AcmeError::Refused(format!(
                    "authorization for {} is {other:?}",
                    authz.identifier()
                )))
            }
        }
        let ch = authz
            .challenge(kind.clone())
            .ok_or_else(|| AcmeError::Refused(format!("the directory does not offer {kind:?}")))?;
        let key_authorization = ch.key_authorization();
        match challenge {
            Challenge::TlsAlpn01 => answers.alpn.insert(
                ch.identifier().to_string(),
                hex(key_authorization.digest().as_ref()),
            ),
            Challenge::Http01 => answers
                .http
                .insert(ch.token.clone(), key_authorization.as_str().to_owned()),
        };
    }
    certs.set_answers(&answers);
    publish(answers).await?;

    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz?;
        if authz.status != AuthorizationStatus::Pending {
            continue;
        }
        if let Some(mut ch) = authz.challenge(kind.clone()) {
            ch.set_ready().await?;
        }
    }
    // Validation connects back to this chat; allow a minute for it.
    let patience = RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .backoff(1.5)
        .timeout(Duration::from_secs(60));
    let status = order.poll_ready(&patience).await?;
    if status != OrderStatus::Ready {
        let why = order
            .state()
            .error
            .as_ref()
            .map_or_else(|| format!("{status:?}"), |p| p.to_string());
        return Err(AcmeError::Refused(format!(
            "the order was not validated: {why}"
        )));
    }
    let key_pem = order.finalize().await?;
    let chain_pem = order.poll_certificate(&patience).await?;
    let mut pem = chain_pem.into_bytes();
    if !pem.ends_with(b"\n") {
        pem.push(b'\n');
    }
    pem.extend_from_slice(key_pem.as_bytes());
    Ok(pem)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
