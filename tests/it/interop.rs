//! Our notes and signatures against stock git and stock OpenSSH.

use crate::common::{TestRepo, split_records, ssh_keygen_sign, ssh_keygen_verify};

fn proven_commit(repo: &TestRepo) -> (String, String) {
    let run_id = repo.start(&[]);
    repo.write("a.txt", "a\n");
    let head = repo.commit_all("agent work");
    repo.proof(&["finish"]).ok();
    (run_id, head)
}

#[test]
fn ssh_keygen_accepts_our_signature() {
    let repo = TestRepo::new();
    let (_, head) = proven_commit(&repo);
    let records = split_records(&repo.note(&head));
    assert_eq!(records.len(), 1);
    let (payload, signature) = &records[0];
    assert!(payload.ends_with("}\n"), "payload is pretty JSON ending in a newline");
    let (code, output) = ssh_keygen_verify(&repo, "agent@example.com", payload, signature);
    assert_eq!(code, 0, "ssh-keygen -Y verify: {output}");
    assert!(output.contains("Good \"git-proof\" signature"), "{output}");
    // And it is the exact payload bytes that are signed.
    let tampered = payload.replacen("\"exit_code\": 0", "\"exit_code\": 1", 1);
    assert_ne!(&tampered, payload);
    let (code, _) = ssh_keygen_verify(&repo, "agent@example.com", &tampered, signature);
    assert_ne!(code, 0, "ssh-keygen must reject an altered payload");
}

#[test]
fn we_accept_a_payload_signed_by_ssh_keygen_and_stored_by_git_notes_add() {
    let repo = TestRepo::new();
    let (_, head) = proven_commit(&repo);
    let (payload, _) = split_records(&repo.note(&head)).remove(0);
    let signature = ssh_keygen_sign(&repo, &repo.key, "git-proof", &payload);
    repo.replace_note(&head, &format!("{payload}{signature}"));
    let out = repo.verify(&[&head]).ok();
    assert!(out.stdout.contains("valid"), "{}", out.stdout);
    assert!(out.stdout.contains("signed by agent@example.com"), "{}", out.stdout);
}

#[test]
fn stock_git_reads_our_notes_ref() {
    let repo = TestRepo::new();
    let (run_id, head) = proven_commit(&repo);
    let note = repo.note(&head);
    assert!(
        note.starts_with("{\n  \"_type\": \"https://in-toto.io/Statement/v1\""),
        "{note}"
    );
    assert!(note.trim_end().ends_with("-----END SSH SIGNATURE-----"));
    let log = repo.git(&["log", "-1", "--notes=proof", "--format=%N"]);
    assert!(log.contains(&run_id));
    repo.git(&["fsck", "--strict", "--no-dangling"]);
    // The notes commit is an ordinary commit whose tree maps the commit to one blob.
    let tree = repo.git(&["ls-tree", "refs/notes/proof"]);
    assert!(tree.ends_with(&format!("\t{head}")), "{tree}");
}

#[test]
fn we_read_and_extend_a_fanned_out_notes_tree_written_by_git() {
    let repo = TestRepo::new();
    // 400 commits in one fast-import, then notes on all of them by git itself.
    let mut script = String::new();
    for i in 0..400 {
        script.push_str(&format!(
            "commit refs/heads/main\ncommitter A <a@example.com> {} +0000\ndata 4\nc{:03}\n",
            1_795_428_000 + i,
            i
        ));
        if i == 0 {
            script.push_str("from refs/heads/main^0\n");
        }
        script.push_str(&format!("M 100644 inline n{i}.txt\ndata 2\n{}\n\n", i % 10));
    }
    repo.git_with_input(&["fast-import", "--quiet"], &script);
    repo.git(&["reset", "-q", "--hard", "main"]);
    let commits: Vec<String> = repo.git(&["rev-list", "HEAD~1"]).lines().map(str::to_owned).collect();
    assert!(commits.len() >= 400);

    // A real proof on one commit, copied by git onto all the others.
    repo.git(&["checkout", "-q", "--detach", &commits[399]]);
    let (_, first) = proven_commit(&repo);
    repo.git(&["checkout", "-q", "main"]);
    let pairs: String = commits.iter().take(399).map(|c| format!("{first} {c}\n")).collect();
    repo.git_with_input(&["notes", "--ref=proof", "copy", "--stdin"], &pairs);
    let top = repo.git(&["ls-tree", "refs/notes/proof"]);
    assert!(
        top.lines()
            .all(|l| l.contains(" tree ") && l.split('\t').nth(1).unwrap().len() == 2),
        "git fanned the notes out into 2-hex-digit subtrees:\n{top}"
    );

    // We find a note deep in git's layout (its copy is not verifiable for that commit).
    let out = repo.proof(&["show", &commits[17]]).ok();
    assert!(out.stdout.contains("run "), "{}", out.stdout);
    let out = repo.verify(&[&commits[17]]).expect_code(1);
    assert!(out.stdout.contains("not this commit"), "{}", out.stdout);

    // We add a note into that layout; git still reads every note, old and new.
    let (_, head) = proven_commit(&repo);
    repo.verify(&[&head]).ok();
    repo.git(&["fsck", "--strict", "--no-dangling"]);
    let listed = repo.git(&["notes", "--ref=proof", "list"]);
    assert_eq!(listed.lines().count(), 401);
    assert!(listed.contains(&head));
    let top = repo.git(&["ls-tree", "refs/notes/proof"]);
    assert!(
        top.lines().all(|l| l.contains(" tree ")),
        "our write kept the fan-out:\n{top}"
    );
}

#[test]
fn the_same_run_in_two_clones_has_the_same_manifest_hash() {
    let a = TestRepo::new();
    let b_dir = a.tmp.path().join("clone");
    a.git_in(
        a.tmp.path(),
        &["clone", "-q", a.root.to_str().unwrap(), b_dir.to_str().unwrap()],
    );
    let mut manifests = Vec::new();
    for dir in [a.root.clone(), b_dir.clone()] {
        a.proof_in(&dir, &["start", "--run-id", "same-run-1", "--scope", "src/**"])
            .ok();
        std::fs::write(dir.join("f.txt"), "same change\n").unwrap();
        a.git_in(&dir, &["add", "-A"]);
        a.git_in(&dir, &["commit", "-qm", "same commit"]);
        a.proof_in(&dir, &["event", "step.started", "--data", r#"{"step_id":"s1"}"#])
            .ok();
        a.proof_in(&dir, &["finish"]).ok();
        let bundle = a.proof_in(&dir, &["show", "same-run-1", "--json"]).ok().json();
        manifests.push(bundle["evidence"].clone());
    }
    assert_eq!(manifests[0]["event_count"], 4);
    assert_eq!(manifests[0]["manifest_hash"], manifests[1]["manifest_hash"]);
    assert_eq!(manifests[0]["event_hash_root"], manifests[1]["event_hash_root"]);
    assert_eq!(manifests[0], manifests[1]);
}
