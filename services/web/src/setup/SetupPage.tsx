/** The customer's setup page (the link's secret is in the URL's fragment). */
export function SetupPage() {
  return (
    <main className="page-narrow">
      <h1>Connect your identity provider</h1>
    </main>
  );
}
