// Starts Swagger UI on /docs. A served file, since the page's policy runs no inline script.
const root = document.getElementById("docs");
globalThis.SwaggerUIBundle({
  url: root.dataset.spec,
  domNode: root,
  deepLinking: true,
  // The default validator badge is an image from validator.swagger.io: no request leaves.
  validatorUrl: null,
});
