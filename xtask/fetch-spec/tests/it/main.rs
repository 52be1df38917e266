//! The fetch-spec program against the vendor's pages served on 127.0.0.1
//! in the seeds' form (`../shared/seeds/`): an index (`llms.txt`), a page per
//! operation carrying the document cut to it, a guide without a block.
//! Made from the checked-in document, they assemble to it; a changed page is
//! a change that only `--write` writes; a page missing, a block that is not
//! OpenAPI and two pages that disagree each stop it, naming the page, with
//! nothing written. (`cargo xtask fetch-spec` runs this program with
//! `--root`: the runner's unit tests check that; regen's report of a
//! changed document is `xtask/tests/it/review.rs`'s.)
//!
//! The program is the one `cargo test` builds with the workspace's features,
//! so that these tests build nothing more.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Map, Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SPEC: &str = "specs/reward-points-api.yaml";

/// The workspace: two levels above this crate.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A document of the workspace (YAML), as JSON values.
fn workspace_document(file: &str) -> Value {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// A workspace in `dir` as fetch-spec reads and writes it: a copy of specs/.
fn copy_of_specs(dir: &Path) {
    std::fs::create_dir_all(dir.join("specs")).unwrap();
    for entry in std::fs::read_dir(root().join("specs")).unwrap().flatten() {
        std::fs::copy(entry.path(), dir.join("specs").join(entry.file_name())).unwrap();
    }
}

/// The program with `--root workspace` and `arguments`, as `cargo xtask
/// fetch-spec` runs it.
async fn fetch_spec(workspace: &Path, arguments: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_reward-points-fetch-spec"));
    command.arg("--root").arg(workspace).args(arguments);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

/// Every `$ref` under `value`, followed through the components.
fn references(document: &Value, value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref")
                && !found.contains(reference)
            {
                found.push(reference.clone());
                let target = document.pointer(reference.trim_start_matches('#')).unwrap();
                references(document, target, found);
            }
            object
                .values()
                .for_each(|inner| references(document, inner, found));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|inner| references(document, inner, found)),
        _ => {}
    }
}

/// The document cut to one operation, as the vendor's pages carry it: what
/// every page repeats, the operation, the components it reaches and the
/// security schemes (the seeds' pages carry them; `cut_bare` leaves them
/// out).
fn cut(document: &Value, path: &str, method: &str) -> Value {
    let mut cut = cut_bare(document, path, method);
    cut["components"]["securitySchemes"] = document["components"]["securitySchemes"].clone();
    cut
}

fn cut_bare(document: &Value, path: &str, method: &str) -> Value {
    let operation = &document["paths"][path][method];
    let mut cut = document.as_object().unwrap().clone();
    cut.insert("paths".into(), json!({ path: { method: operation } }));
    let mut components = Map::new();
    let mut found = Vec::new();
    references(document, operation, &mut found);
    for reference in &found {
        let mut parts = reference.trim_start_matches("#/components/").split('/');
        let (section, name) = (parts.next().unwrap(), parts.next().unwrap());
        components
            .entry(section)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .unwrap()
            .insert(name.into(), document["components"][section][name].clone());
    }
    cut.insert("components".into(), Value::Object(components));
    Value::Object(cut)
}

/// The pages of `document`: (its path on the server, its text), the index
/// first.
fn pages(document: &Value, base: &str) -> Vec<(String, String)> {
    pages_cut_by(document, base, cut)
}

fn pages_cut_by(
    document: &Value,
    base: &str,
    cut: fn(&Value, &str, &str) -> Value,
) -> Vec<(String, String)> {
    let mut index = String::from(
        "# Xoxoday\n\n> Rewards, incentives and the Plum help centre.\n\n## Docs\n\n- [Getting \
         started](/guides/getting-started.md): what Plum is\n",
    );
    let mut pages = vec![(
        "/guides/getting-started.md".to_owned(),
        "# Getting started\n\nNo API here.\n\n```yaml\nnot: openapi\n```\n".to_owned(),
    )];
    for (route, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            let title = operation["summary"].as_str().unwrap_or(id);
            let page = format!("/api-reference/{id}.md");
            index.push_str(&format!("- [{title}]({base}{page}): {title}\n"));
            let yaml = serde_yaml::to_string(&cut(document, route, method)).unwrap();
            let text = format!(
                "> ## Documentation Index\n> Fetch the complete documentation index at: \
                 {base}/llms.txt\n> Use this file to discover all available pages before \
                 exploring further.\n\n# {title}\n\n## OpenAPI\n\n````yaml {SPEC} {} \
                 {route}\n{yaml}````\n",
                method.to_uppercase()
            );
            pages.push((page, text));
        }
    }
    pages.insert(0, ("/llms.txt".to_owned(), index));
    pages
}

/// `server` holds `pages` from now on; `missing` answers 404.
async fn serve(server: &MockServer, pages: &[(String, String)], missing: Option<&str>) {
    for (at, text) in pages {
        let answer = match missing == Some(at.as_str()) {
            true => ResponseTemplate::new(404),
            false => ResponseTemplate::new(200).set_body_string(text.clone()),
        };
        Mock::given(method("GET"))
            .and(path(at.as_str()))
            .respond_with(answer)
            .mount(server)
            .await;
    }
}

fn said(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

#[tokio::test]
async fn the_vendors_pages_assemble_to_the_checked_in_document() {
    let document = workspace_document(SPEC);
    let server = MockServer::start().await;
    serve(&server, &pages(&document, &server.uri()), None).await;
    let index = format!("{}/llms.txt", server.uri());
    let before = std::fs::read(root().join(SPEC)).unwrap();

    let output = fetch_spec(&root(), &["--index", &index]).await;

    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    assert_eq!(
        said(&output),
        "fetch-spec: the vendor's pages say what specs/ says: no change\n"
    );
    assert_eq!(std::fs::read(root().join(SPEC)).unwrap(), before);
}

/// Pages that leave out the security schemes, and one page that carries
/// two operations: the schemes are kept from specs/ (and said), both
/// operations read.
#[tokio::test]
async fn what_no_page_carries_is_kept_and_a_page_may_carry_two_operations() {
    let document = workspace_document(SPEC);
    let server = MockServer::start().await;
    let mut pages = pages_cut_by(&document, &server.uri(), cut_bare);
    let second = pages
        .iter()
        .position(|(at, _)| at.ends_with("/sendPoints.md"))
        .unwrap();
    let (gone, moved) = pages.remove(second);
    let block = &moved[moved.find("````yaml").unwrap()..];
    // The index no longer links to the page whose operation moved.
    let index = &mut pages[0].1;
    *index = index
        .lines()
        .filter(|line| !line.contains(&gone))
        .map(|line| format!("{line}\n"))
        .collect();
    page_text(&mut pages, "fetchPoints").push_str(&format!("\nAlso:\n\n{block}"));
    serve(&server, &pages, None).await;
    let index = format!("{}/llms.txt", server.uri());

    let output = fetch_spec(&root(), &["--index", &index]).await;

    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    assert_eq!(
        said(&output),
        "fetch-spec: kept component `securitySchemes/BearerAuth` of specs/: no page carries it\n\
         fetch-spec: the vendor's pages say what specs/ says: no change\n"
    );
}

#[tokio::test]
async fn a_changed_page_is_a_change_written_only_with_write() {
    let dir = tempfile::tempdir().unwrap();
    copy_of_specs(dir.path());
    let before = std::fs::read(dir.path().join(SPEC)).unwrap();
    let mut document = workspace_document(SPEC);
    let recipient =
        "/components/schemas/SendPointsRecipientsData/properties/recipients/items/properties";
    document.pointer_mut(recipient).unwrap()["to_name"]["maxLength"] = json!(100);
    let server = MockServer::start().await;
    serve(&server, &pages(&document, &server.uri()), None).await;
    let index = format!("{}/llms.txt", server.uri());

    let checked = fetch_spec(dir.path(), &["--index", &index]).await;
    assert_eq!(checked.status.code(), Some(1), "{}", said(&checked));
    assert_eq!(
        said(&checked),
        "fetch-spec: the vendor's pages differ from specs/:\n  - component \
         `schemas/SendPointsRecipientsData` changed\nnothing written (give --write to write it)\n"
    );
    assert_eq!(std::fs::read(dir.path().join(SPEC)).unwrap(), before);
    let written = fetch_spec(dir.path(), &["--index", &index, "--write"]).await;
    assert_eq!(written.status.code(), Some(0), "{}", said(&written));
    assert_eq!(
        said(&written),
        "fetch-spec: the vendor's pages differ from specs/:\n  - component \
         `schemas/SendPointsRecipientsData` changed\nwritten to specs/: now run `cargo xtask regen`\n"
    );

    let now: Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.path().join(SPEC)).unwrap()).unwrap();
    assert_eq!(now, document);
}

/// fetch-spec with `--write` in a fresh copy of specs/ against `pages`
/// (made with `server`'s address): its output, and whether the document
/// stayed as it was.
async fn refused(
    server: &MockServer,
    pages: Vec<(String, String)>,
    missing: Option<&str>,
) -> (Option<i32>, String, bool) {
    let dir = tempfile::tempdir().unwrap();
    copy_of_specs(dir.path());
    let before = std::fs::read(dir.path().join(SPEC)).unwrap();
    server.reset().await;
    serve(server, &pages, missing).await;
    let index = format!("{}/llms.txt", server.uri());
    let output = fetch_spec(dir.path(), &["--index", &index, "--write"]).await;
    let untouched = std::fs::read(dir.path().join(SPEC)).unwrap() == before;
    (output.status.code(), said(&output), untouched)
}

fn page_text<'a>(pages: &'a mut [(String, String)], id: &str) -> &'a mut String {
    &mut pages
        .iter_mut()
        .find(|(at, _)| at.ends_with(&format!("/{id}.md")))
        .unwrap()
        .1
}

#[tokio::test]
async fn a_missing_page_a_block_that_is_not_openapi_and_pages_that_disagree_stop_it() {
    let document = workspace_document(SPEC);
    let server = MockServer::start().await;
    let base = server.uri();

    let (status, text, untouched) = refused(
        &server,
        pages(&document, &base),
        Some("/api-reference/sendPoints.md"),
    )
    .await;
    assert_eq!(status, Some(2), "{text}");
    assert!(
        text.contains("/api-reference/sendPoints.md: HTTP 404 Not Found; nothing was written"),
        "{text}"
    );
    assert!(untouched);

    let mut broken = pages(&document, &base);
    let page = page_text(&mut broken, "fetchPoints");
    let start = page.find("openapi: ").unwrap();
    page.replace_range(start..start + "openapi: 3.0.3".len(), "swagger: '2.0'");
    let (status, text, untouched) = refused(&server, broken, None).await;
    assert_eq!(status, Some(2), "{text}");
    assert!(
        text.contains("/api-reference/fetchPoints.md: its block of specs/reward-points-api.yaml is not an OpenAPI document: it has no `openapi: 3.x` field"),
        "{text}"
    );
    assert!(untouched);

    let mut other = document.clone();
    other["components"]["schemas"]["TokenResponse"]["properties"]["expires_in"]["type"] =
        json!("string");
    let mut disagreeing = pages(&document, &base);
    let changed = pages(&other, &base);
    let (_, refresh) = changed
        .iter()
        .find(|(at, _)| at.ends_with("/refreshToken.md"))
        .unwrap();
    *page_text(&mut disagreeing, "refreshToken") = refresh.clone();
    let (status, text, untouched) = refused(&server, disagreeing, None).await;
    assert_eq!(status, Some(2), "{text}");
    let refresh = format!("{base}/api-reference/refreshToken.md");
    let user = format!("{base}/api-reference/createUserToken.md");
    assert!(
        text.contains(&format!(
            "error: pages {refresh} and {user} disagree on `/components/schemas/TokenResponse`"
        )),
        "{text}"
    );
    assert!(untouched);
}

#[test]
fn the_configured_index_is_the_vendors() {
    let config = std::fs::read_to_string(root().join("specs/vendor-pages.toml")).unwrap();
    assert!(
        config.contains("index = \"https://help-plum.xoxoday.com/llms.txt\""),
        "{config}"
    );
}
