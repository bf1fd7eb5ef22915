// Stylesheets imported by the theme are handled by Vite.
declare module "*.css"
