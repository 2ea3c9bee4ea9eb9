/**
 * The queue board: one taskpulse client for the hub that served the page, as the demo user
 * `demo` (token `user:demo`, accepted by the example's demo authenticator).
 */
import { taskpulse } from '@taskpulse/vue-adapter';
import { createApp } from 'vue';
import App from './App.vue';
import './style.css';

createApp(App).use(taskpulse, { url: window.location.origin, token: 'user:demo' }).mount('#app');
