/* HTML documents and CSS selectors for k6/html: libxml2's HTML parser builds the DOM, a
 * hand-written selector engine (this file's second half) matches over it.
 *
 * Parsing is libxml2's error-recovering HTML 4 parser: unclosed tags are closed where HTML says
 * (<p> before <p>, <li> before <li>), entities are decoded, script and style bodies are kept raw,
 * and html/head/body are implied as needed. The DOM lives in malloc'd memory (libxml2's), not in
 * any Duktape heap; a document is reference-counted so the Selections of one parseHTML() call
 * can share it.
 *
 * Nodes are libxml2's own (struct _xmlNode): read them with <libxml/tree.h> (type, name,
 * children, next, prev, parent, properties). The document node stands for the document.
 *
 * Selectors (CSS level 3 and a little of 4, as goquery's cascadia understands them):
 *   type  *  #id  .class  [attr]  [attr=v]  [attr~=v]  [attr|=v]  [attr^=v]  [attr$=v]
 *   [attr*=v]  (values quoted or bare; a trailing " i" compares ASCII case-insensitively)
 *   descendant "a b", child "a > b", adjacent "a + b", sibling "a ~ b", groups "a, b"
 *   :first-child :last-child :only-child :first-of-type :last-of-type :only-of-type
 *   :nth-child(an+b|odd|even) :nth-last-child() :nth-of-type() :nth-last-of-type()
 *   :not(list) :has(list) :contains("text") :empty :root :checked :disabled :enabled
 * Tag and attribute names compare case-insensitively, values case-sensitively. */
#ifndef SB_HTML_H
#define SB_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

typedef struct _xmlNode sb_html_node;
typedef struct sb_html_doc sb_html_doc;
typedef struct sb_html_sel sb_html_sel;

/* Parses |src|[0..len) (UTF-8; a <meta charset> is ignored) into |*out|, holding one reference
 * (drop it with sb_html_doc_unref()). Any input gives a document, an empty one included. Keeps
 * no pointer into |src|. Returns 0, SB_EINVAL (|len| over 2 GiB: |err|) or SB_ENOMEM. */
int sb_html_parse(sb_html_doc **out, const char *src, size_t len, sb_err *err);
void sb_html_doc_ref(sb_html_doc *d);
/* Drops one reference; the last frees the DOM. Accepts NULL. */
void sb_html_doc_unref(sb_html_doc *d);
/* The document node (type XML_HTML_DOCUMENT_NODE): the root every Selection starts from. */
sb_html_node *sb_html_doc_root(sb_html_doc *d);

/* --- node lists ----------------------------------------------------------------------------- */

/* A growable list of nodes, embedded in its owner. sb_html_nodes_begin() starts a duplicate-free
 * run on one document: sb_html_nodes_add() then ignores a node already in the list (O(1): the
 * node's _private field carries the run's mark, so only one run per document at a time). */
typedef struct sb_html_nodes {
  sb_html_node **v; /* the nodes, in the order added */
  size_t n;         /* count */
  size_t cap;       /* allocated slots */
  uintptr_t mark;   /* this run's mark (0: duplicates allowed) */
} sb_html_nodes;

void sb_html_nodes_init(sb_html_nodes *l);
void sb_html_nodes_clear(sb_html_nodes *l);
void sb_html_nodes_begin(sb_html_nodes *l, sb_html_doc *d);
/* Returns 0 (added or already there) or SB_ENOMEM. */
int sb_html_nodes_add(sb_html_nodes *l, sb_html_node *n);

/* --- reading nodes ------------------------------------------------------------------------- */

int sb_html_is_element(const sb_html_node *n);
/* The value of attribute |name| (case-insensitive) of element |n|, pointing into the DOM (valid
 * while the document lives), or NULL when absent. */
const char *sb_html_attr(const sb_html_node *n, const char *name);
/* Appends the text of |n| and its descendants (text, CDATA and script bodies; not comments). */
int sb_html_text(const sb_html_node *n, sb_buf *out);
/* Appends the markup of |n|'s children (inner) or of |n| itself (outer). 0 or SB_ENOMEM. */
int sb_html_inner(const sb_html_node *n, sb_buf *out);
int sb_html_outer(const sb_html_node *n, sb_buf *out);
/* The next / previous sibling that is an element, or NULL. */
sb_html_node *sb_html_next_el(const sb_html_node *n);
sb_html_node *sb_html_prev_el(const sb_html_node *n);
/* The parent when it is an element, else NULL (the document node is nobody's parent here). */
sb_html_node *sb_html_parent_el(const sb_html_node *n);

/* --- selectors ----------------------------------------------------------------------------- */

/* Compiles |src| into |*out| (free with sb_html_sel_free()). Returns 0, SB_EFORMAT (|err| names
 * the offset and what was expected) or SB_ENOMEM. */
int sb_html_sel_compile(sb_html_sel **out, const char *src, sb_err *err);
void sb_html_sel_free(sb_html_sel *s);
/* 1 when element |n| matches |s| (a non-element never does). */
int sb_html_sel_match(const sb_html_sel *s, const sb_html_node *n);
/* Adds every descendant element of |root| matching |s| to |out|, in document order. Returns 0 or
 * SB_ENOMEM. */
int sb_html_sel_find(const sb_html_sel *s, const sb_html_node *root, sb_html_nodes *out);

#endif
