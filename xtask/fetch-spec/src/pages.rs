//! The vendor's documentation pages: the index's links, each page fetched
//! (over HTTPS with reqwest, the client's own HTTP stack), and the OpenAPI
//! block of the document each carries.

use serde_json::Value;

use reward_points_document::read_input::parse_document;

/// One operation's page: where it is, and the document cut to the
/// operation its block names.
pub struct Page {
    pub url: String,
    pub document: Value,
}

/// The most a page or the index may weigh.
const LARGEST: usize = 8 << 20;

/// Fetches every page the index at `index` links to on its own site, and
/// reads the blocks of `document_name` they carry. A page without one (a
/// guide, an image) is passed over; a page that cannot be fetched (after
/// three tries, for a 429 or a 5xx), or whose block is not OpenAPI, stops
/// it.
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
        let text = get(&http, &index_url).await?.unwrap_or_default();
        let links = links(&index_url, &text);
        if links.is_empty() {
            return Err(format!("the index {index_url} links to no page"));
        }
        let mut pages = Vec::new();
        for link in links {
            if let Some(text) = get(&http, &link).await? {
                pages.extend(blocks(&link, &text, document_name)?);
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

/// The text at `url` (`None` for what is not text: an image), or why not
/// (a missing page names itself). A 429 or a 5xx is tried again, twice.
async fn get(http: &reqwest::Client, url: &reqwest::Url) -> Result<Option<String>, String> {
    let mut tries = 0;
    let mut response = loop {
        tries += 1;
        let response = http
            .get(url.clone())
            .send()
            .await
            .map_err(|error| format!("page {url}: {error}"))?;
        let status = response.status();
        let passing = status.as_u16() == 429 || status.is_server_error();
        if !passing || tries == 3 {
            break response;
        }
        tokio::time::sleep(std::time::Duration::from_secs(tries)).await;
    };
    let status = response.status();
    if !status.is_success() {
        return Err(format!("page {url}: HTTP {status}; nothing was written"));
    }
    let text_like = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|kind| {
            kind.starts_with("text/") || kind.contains("yaml") || kind.contains("json")
        });
    if !text_like {
        return Ok(None);
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
    String::from_utf8(body)
        .map(Some)
        .map_err(|_| format!("page {url}: not UTF-8 text"))
}

/// The pages an `llms.txt` links to (`[title](address)`) on the index's own
/// site, in order, once each, relative addresses read against the index's.
fn links(index: &reqwest::Url, text: &str) -> Vec<reqwest::Url> {
    let mut links: Vec<reqwest::Url> = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else { break };
            if let Ok(url) = index.join(after[..end].trim())
                && url.origin() == index.origin()
                && !links.contains(&url)
            {
                links.push(url);
            }
            rest = &after[end..];
        }
    }
    links
}

/// The blocks of `document_name` on the page at `url`, each an operation's
/// cut document: none for a page that carries none.
fn blocks(url: &reqwest::Url, text: &str, document_name: &str) -> Result<Vec<Page>, String> {
    let mut pages = Vec::new();
    let mut lines = text.lines();
    while let Some(header) = lines.by_ref().find(|line| opens_block(line, document_name)) {
        let fence = header.split_whitespace().next().unwrap_or_default();
        let fence = fence.trim_end_matches("yaml");
        let operation = header
            .split_whitespace()
            .skip(2)
            .collect::<Vec<_>>()
            .join(" ");
        let block: Vec<&str> = lines
            .by_ref()
            .take_while(|line| line.trim() != fence)
            .collect();
        pages.push(block_page(
            url,
            &block.join("\n"),
            &operation,
            document_name,
        )?);
    }
    Ok(pages)
}

/// Whether `line` opens a block of `document_name` (three backquotes or
/// more, `yaml`, the document's name).
fn opens_block(line: &str, document_name: &str) -> bool {
    let mut words = line.split_whitespace();
    words
        .next()
        .is_some_and(|fence| fence.starts_with("```") && fence.ends_with("yaml"))
        && words.next() == Some(document_name)
}

/// One block, read as the checked-in document is read, checked to be the
/// OpenAPI document of the operation its header names.
fn block_page(
    url: &reqwest::Url,
    block: &str,
    operation: &str,
    document_name: &str,
) -> Result<Page, String> {
    let not_openapi = |why: String| {
        format!("page {url}: its block of {document_name} is not an OpenAPI document: {why}")
    };
    let document = parse_document(url.as_str(), block.as_bytes())
        .map_err(|problem| not_openapi(problem.to_string()))?;
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
    if !named.iter().any(|known| known == operation) {
        return Err(format!(
            "page {url}: its block says it is `{operation}`, and holds {named:?}"
        ));
    }
    Ok(Page {
        url: url.to_string(),
        document,
    })
}
