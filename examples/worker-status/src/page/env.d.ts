/** Single-file components, for `tsc` (Vite compiles them). */
declare module '*.vue' {
  import type { DefineComponent } from 'vue';

  const component: DefineComponent;
  export default component;
}
