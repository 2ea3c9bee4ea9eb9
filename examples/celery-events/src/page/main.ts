/**
 * Seed 002's task monitor page: one taskpulse client for the hub that served the page.
 */
import { taskpulse } from '@taskpulse/vue-adapter';
import { createApp } from 'vue';
import App from './App.vue';
import './style.css';

createApp(App).use(taskpulse, { url: window.location.origin }).mount('#app');
