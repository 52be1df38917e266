//! The vendor's documentation pages: the index's links, each page fetched
//! (over HTTPS with reqwest, the client's own HTTP stack), and the OpenAPI
//! block of the document each carries.

use serde_json::Value;

/// One operation's page: where it is, and the document cut to the
/// operation its block names.
pub struct Page {
    pub url: String,
    pub document: Value,
}

/// The most a page or the index may weigh.
const LARGEST: usize = 8 << 20;

/// Fetches every page the index at `index` links to, and reads the blocks of
/// `document_name` they carry. A page without one (a guide) is passed over;
/// a page that cannot be fetched, or whose block is not OpenAPI, stops it.
pub fn fetch(index: &str, document_name: &str) -> Result<Vec<Page>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start: {error}"))?;
    runtime.block_on(async {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|error| format!("cannot start an HTTP client: {error}"))?;
        let index_url = reqwest::Url::parse(index)
            .map_err(|error| format!("the index's address {index:?}: {error}"))?;
        let text = get(&http, &index_url).await?;
        let links = links(&index_url, &text);
        if links.is_empty() {
            return Err(format!("the index {index_url} links to no page"));
        }
        let mut pages = Vec::new();
        for link in links {
            let text = get(&http, &link).await?;
            if let Some(page) = page(&link, &text, document_name)? {
                pages.push(page);
            }
        }
        if pages.is_empty() {
            return Err(format!(
                "no page the index {index_url} links to carries an OpenAPI block of \
                 {document_name}: check `document` in the workspace's specs/vendor-pages.toml"
            ));
        }
        Ok(pages)
    })
}

/// The text at `url`, or why not (a missing page names itself).
async fn get(http: &reqwest::Client, url: &reqwest::Url) -> Result<String, String> {
    let mut response = http
        .get(url.clone())
        .send()
        .await
        .map_err(|error| format!("page {url}: {error}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("page {url}: HTTP {status}; nothing was written"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| format!("page {url}: {error}"))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > LARGEST {
            return Err(format!("page {url}: larger than {} MiB", LARGEST >> 20));
        }
    }
    String::from_utf8(body).map_err(|_| format!("page {url}: not UTF-8 text"))
}

/// The pages an `llms.txt` links to (`[title](address)`), in order, once
/// each, relative addresses read against the index's.
fn links(index: &reqwest::Url, text: &str) -> Vec<reqwest::Url> {
    let mut links: Vec<reqwest::Url> = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else { break };
            if let Ok(url) = index.join(after[..end].trim())
                && !links.contains(&url)
            {
                links.push(url);
            }
            rest = &after[end..];
        }
    }
    links
}

/// The block of `document_name` on the page at `url`, as an operation's
/// page: `None` when the page carries none.
fn page(url: &reqwest::Url, text: &str, document_name: &str) -> Result<Option<Page>, String> {
    let mut lines = text.lines();
    let header = lines.by_ref().find(|line| {
        let mut words = line.split_whitespace();
        words
            .next()
            .is_some_and(|fence| fence.starts_with("```") && fence.ends_with("yaml"))
            && words.next() == Some(document_name)
    });
    let Some(header) = header else {
        return Ok(None);
    };
    let fence = header.split_whitespace().next().unwrap_or_default();
    let fence = fence.trim_end_matches("yaml");
    let operation = header
        .split_whitespace()
        .skip(2)
        .collect::<Vec<_>>()
        .join(" ");
    let block: Vec<&str> = lines.take_while(|line| line.trim() != fence).collect();
    let not_openapi = |why: String| {
        format!("page {url}: its block of {document_name} is not an OpenAPI document: {why}")
    };
    let document: Value =
        serde_yaml::from_str(&block.join("\n")).map_err(|error| not_openapi(error.to_string()))?;
    let version = document
        .get("openapi")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !version.starts_with("3.") {
        return Err(not_openapi("it has no `openapi: 3.x` field".into()));
    }
    if !document.get("paths").is_some_and(Value::is_object) {
        return Err(not_openapi("it has no `paths`".into()));
    }
    let named = super::operations(&document);
    if !named.contains(&operation) {
        return Err(format!(
            "page {url}: its block says it is `{operation}`, and holds {named:?}"
        ));
    }
    Ok(Some(Page {
        url: url.to_string(),
        document,
    }))
}
